"""RAG vs fine-tuning lab: everything a page does, without Streamlit."""

import os

# MKL's default code path for skinny fp32 matrix products (a few rows times a weight matrix,
# i.e. batched token-by-token decoding) is about 2x slower on AMD EPYC than its "conditional
# numerical reproducibility" path; AUTO picks the best path for the CPU and keeps results
# reproducible. Measured in bench/compare.py. It must be set before torch loads MKL.
os.environ.setdefault("MKL_CBWR", "AUTO")

# torchao (int8 weights, core.models.precision) tries its CUDA-only kernels (cutlass, mxfp8) when it is
# imported and logs a warning for each one a CPU build of torch cannot load; the lab's int8 path
# (weight-only, plain torch ops) does not use them. Only those lines are dropped.
import logging  # noqa: E402

logging.getLogger("torchao").addFilter(lambda record: not record.getMessage().startswith("Failed to load"))
