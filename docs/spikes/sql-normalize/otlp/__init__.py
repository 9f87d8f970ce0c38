"""The OTLP trace schema as one self-contained .proto file, for ClickHouse's Protobuf input format."""
