"""The sampling study (the thesis's §5.2): configurations (:mod:`.study`), their scores (:mod:`.scoring`) and figures (:mod:`.figures`)."""
