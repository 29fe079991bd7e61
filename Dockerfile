# CPU (default) or CUDA image of the perceiver library that runs its test suite.
#   docker build -t perceiver .                                   # CPU
#   docker build --build-arg VARIANT=cuda -t perceiver:cuda .     # CUDA (NVIDIA base image)
ARG VARIANT=cpu

FROM python:3.11-slim AS base-cpu
ENV TORCH_INDEX=https://download.pytorch.org/whl/cpu

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS base-cuda
RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3-pip make git \
    && rm -rf /var/lib/apt/lists/* && ln -sf /usr/bin/python3.11 /usr/local/bin/python3
ENV TORCH_INDEX=https://download.pytorch.org/whl/cu128

FROM base-${VARIANT}
RUN apt-get update && apt-get install -y --no-install-recommends make git && rm -rf /var/lib/apt/lists/* || true
WORKDIR /workspace/perceiver
COPY pyproject.toml constraints.txt Makefile README.md ./
COPY src ./src
COPY tests ./tests
COPY benchmarks ./benchmarks
# the same install command as `make venv`, with torch from the variant's wheel index
RUN python3 -m venv .venv \
    && .venv/bin/python -m pip install -q --upgrade pip \
    && .venv/bin/python -m pip install -q --extra-index-url ${TORCH_INDEX} -c constraints.txt -e ".[text,vision,audio,examples,dev,export]" \
    && touch .venv/.installed
ENV HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
CMD ["make", "test"]
