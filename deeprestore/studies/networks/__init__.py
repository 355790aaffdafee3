"""Does the network matter: the inversion study over several networks at matched depths (:mod:`.study`)."""
