"""The LP study of Lei et al. (2019): the experiments (:mod:`.experiments`), the report (:mod:`.report`) and the runner (:mod:`.study`)."""
