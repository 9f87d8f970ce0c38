# Build stage: the ingest hot path is compiled (collector/_otlp.c and the mypyc modules listed in
# pyproject.toml), so the wheel is built where a C compiler is; the runtime image has none.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY llmpulse ./llmpulse
COPY schemas ./schemas
COPY collector ./collector
COPY detectors ./detectors
COPY evals ./evals
COPY dashboard ./dashboard
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/llmpulse-*.whl)[postgres]" && rm -rf /wheels
ENV LLMPULSE_HOST=0.0.0.0 LLMPULSE_DATA_DIR=/data
VOLUME /data
EXPOSE 4318 8050
ENTRYPOINT ["llmpulse"]
CMD ["serve"]
