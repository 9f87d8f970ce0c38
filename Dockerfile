FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY llmpulse ./llmpulse
COPY schemas ./schemas
COPY collector ./collector
COPY detectors ./detectors
COPY dashboard ./dashboard
RUN pip install --no-cache-dir ".[postgres]"
ENV LLMPULSE_HOST=0.0.0.0 LLMPULSE_DATA_DIR=/data
VOLUME /data
EXPOSE 4318 8050
ENTRYPOINT ["llmpulse"]
CMD ["serve"]
