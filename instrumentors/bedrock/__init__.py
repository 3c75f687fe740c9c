"""AWS Bedrock Runtime instrumentation (botocore): `BedrockInstrumentor` and `track_bedrock`."""

from opik_otel.instrumentors.bedrock.instrumentor import BedrockInstrumentor, track_bedrock

__all__ = ["BedrockInstrumentor", "track_bedrock"]
