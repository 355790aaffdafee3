"""The denoising study: the denoisers (:mod:`.denoisers`) and the runner (:mod:`.study`)."""
