"""greentune.finetune: fine-tune summarization models under efficiency strategies, measured per phase.

Heavy libraries (torch, transformers) load only when `run` or the callback is used.
"""

from greentune.finetune.rouge import compute_rouge
from greentune.finetune.runner import run
from greentune.finetune.spec import ExperimentSpec, load_spec, validate_spec

__all__ = ["ExperimentSpec", "compute_rouge", "load_spec", "run", "validate_spec"]
