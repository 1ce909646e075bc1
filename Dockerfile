# textserve image: Ray 2.60.0 (Python 3.11, CPU), torch 2.13.0 CPU, the project, and the models of
# serve_config.yaml downloaded and converted at build time, so replicas start offline.
#   docker build -t registry.example.com/textserve:0.1.0 .     (guide: deploy/README.md)
# RAY_VERSION must equal rayVersion in deploy/kuberay/rayservice.yaml and the ray the project is
# tested with: tests/deploy/test_rayservice.py compares all three.
# The GPU image of deploy/kuberay/rayservice.gpu.yaml, on Ray's CUDA base image (never built: the
# machine this was written on has no Docker and no GPU; docs/operations.md, "GPU nodes"):
#   docker build --build-arg RAY_IMAGE_VARIANT=gpu -t registry.example.com/textserve:0.1.0-gpu .
# CTranslate2's Linux wheel runs on CUDA with the base image's CUDA 12 libraries, and the
# ctranslate2 backend never imports torch: the CPU torch below is enough there. Only `backend:
# transformers` on `device: cuda` needs a CUDA torch: add --build-arg
# TORCH_INDEX_URL=https://download.pytorch.org/whl/<the CUDA tag matching the base image>.
ARG RAY_VERSION=2.60.0
ARG RAY_IMAGE_VARIANT=cpu
FROM rayproject/ray:${RAY_VERSION}-py311-${RAY_IMAGE_VARIANT}
ARG RAY_VERSION
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# The base image runs as user `ray` (uid 1000, group users), HOME=/home/ray. Both caches are set
# explicitly so the build step and the replicas agree on them whatever HOME a pod gets.
ENV HF_HOME=/home/ray/.cache/huggingface \
    TEXTSERVE_CACHE_DIR=/home/ray/.cache/textserve \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first, the CPU build from PyTorch's index, so nothing pulls a CUDA build (~GBs)
RUN pip install torch==2.13.0 --index-url ${TORCH_INDEX_URL}

# made by the image's user (WORKDIR alone would make it root's): pip builds in it
RUN mkdir -p /home/ray/textserve
WORKDIR /home/ray/textserve
COPY --chown=ray:users . .
# the project and its dependencies; ray pinned to the image's own version so pip never replaces it
RUN pip install "ray[serve]==${RAY_VERSION}" .

# The models, while the hub is still reachable: t5-small into the HF cache, and its CTranslate2
# int8 conversion into TEXTSERVE_CACHE_DIR, at the path the replicas look for it.
RUN HF_HUB_OFFLINE=0 python -m textserve.cache_models --config serve_config.yaml
# From here on nothing reaches for the hub: a model missing from the image fails at once, by name.
ENV HF_HUB_OFFLINE=1
