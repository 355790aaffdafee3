"""The top floor: one module per study, each composing data, networks, methods and metrics.

=====================  ======================================================  ================================
package                study                                                   ``evaluate.py`` subcommand
=====================  ======================================================  ================================
:mod:`.inversion`      every method at every layer of a network, scored        ``inversion`` (the default)
:mod:`.denoising`      MAP denoising with priors against scikit-image          ``denoise``
:mod:`.inverse_problems`  CSGM and ILO with a trained generator                ``inverse-problems``
:mod:`.lp`             Lei et al.'s layer-wise linear programs                 ``lp``
=====================  ======================================================  ================================

Every study is an options dataclass over :class:`~.study_folder.StudyOptions` with a
``run(command)`` method, and writes through one :class:`~.study_folder.StudyFolder` (config,
tables, report, W&B). :mod:`.cli` builds ``evaluate.py``'s parser from the classes. Nothing below
this floor imports it.
"""
