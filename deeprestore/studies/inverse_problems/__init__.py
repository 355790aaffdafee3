"""The inverse-problems study: the experiment and its figures (:mod:`.experiment`) and the runner (:mod:`.study`)."""
