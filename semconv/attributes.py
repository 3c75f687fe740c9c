"""Attribute names. Official constants first; literals only where the installed package lacks one."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import server_attributes as _server

try:
    from opentelemetry.semconv._incubating.attributes import aws_attributes as _aws
except ImportError:  # pragma: no cover - depends on the installed version
    _aws = None
try:  # openai_attributes arrived in semantic-conventions 0.62b0
    from opentelemetry.semconv._incubating.attributes import openai_attributes as _openai
except ImportError:  # pragma: no cover - depends on the installed version
    _openai = None


def _official(module: object, constant: str, name: str) -> str:
    """The official constant, or `name` when the installed conventions predate it."""
    return getattr(module, constant, name) if module is not None else name


# -- GenAI conventions ---------------------------------------------------------------
GEN_AI_OPERATION_NAME = _official(_gen_ai, "GEN_AI_OPERATION_NAME", "gen_ai.operation.name")
GEN_AI_PROVIDER_NAME = _official(_gen_ai, "GEN_AI_PROVIDER_NAME", "gen_ai.provider.name")
GEN_AI_SYSTEM = _official(_gen_ai, "GEN_AI_SYSTEM", "gen_ai.system")  # deprecated predecessor
GEN_AI_CONVERSATION_ID = _official(_gen_ai, "GEN_AI_CONVERSATION_ID", "gen_ai.conversation.id")
GEN_AI_OUTPUT_TYPE = _official(_gen_ai, "GEN_AI_OUTPUT_TYPE", "gen_ai.output.type")

GEN_AI_REQUEST_MODEL = _official(_gen_ai, "GEN_AI_REQUEST_MODEL", "gen_ai.request.model")
GEN_AI_REQUEST_MAX_TOKENS = _official(_gen_ai, "GEN_AI_REQUEST_MAX_TOKENS", "gen_ai.request.max_tokens")
GEN_AI_REQUEST_TEMPERATURE = _official(_gen_ai, "GEN_AI_REQUEST_TEMPERATURE", "gen_ai.request.temperature")
GEN_AI_REQUEST_TOP_P = _official(_gen_ai, "GEN_AI_REQUEST_TOP_P", "gen_ai.request.top_p")
GEN_AI_REQUEST_TOP_K = _official(_gen_ai, "GEN_AI_REQUEST_TOP_K", "gen_ai.request.top_k")
GEN_AI_REQUEST_FREQUENCY_PENALTY = _official(
    _gen_ai, "GEN_AI_REQUEST_FREQUENCY_PENALTY", "gen_ai.request.frequency_penalty"
)
GEN_AI_REQUEST_PRESENCE_PENALTY = _official(
    _gen_ai, "GEN_AI_REQUEST_PRESENCE_PENALTY", "gen_ai.request.presence_penalty"
)
GEN_AI_REQUEST_STOP_SEQUENCES = _official(
    _gen_ai, "GEN_AI_REQUEST_STOP_SEQUENCES", "gen_ai.request.stop_sequences"
)
GEN_AI_REQUEST_SEED = _official(_gen_ai, "GEN_AI_REQUEST_SEED", "gen_ai.request.seed")
GEN_AI_REQUEST_CHOICE_COUNT = _official(_gen_ai, "GEN_AI_REQUEST_CHOICE_COUNT", "gen_ai.request.choice.count")
GEN_AI_REQUEST_STREAM = _official(_gen_ai, "GEN_AI_REQUEST_STREAM", "gen_ai.request.stream")
GEN_AI_REQUEST_ENCODING_FORMATS = _official(
    _gen_ai, "GEN_AI_REQUEST_ENCODING_FORMATS", "gen_ai.request.encoding_formats"
)

GEN_AI_RESPONSE_ID = _official(_gen_ai, "GEN_AI_RESPONSE_ID", "gen_ai.response.id")
GEN_AI_RESPONSE_MODEL = _official(_gen_ai, "GEN_AI_RESPONSE_MODEL", "gen_ai.response.model")
GEN_AI_RESPONSE_FINISH_REASONS = _official(
    _gen_ai, "GEN_AI_RESPONSE_FINISH_REASONS", "gen_ai.response.finish_reasons"
)
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = _official(
    _gen_ai, "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK", "gen_ai.response.time_to_first_chunk"
)

GEN_AI_USAGE_INPUT_TOKENS = _official(_gen_ai, "GEN_AI_USAGE_INPUT_TOKENS", "gen_ai.usage.input_tokens")
GEN_AI_USAGE_OUTPUT_TOKENS = _official(_gen_ai, "GEN_AI_USAGE_OUTPUT_TOKENS", "gen_ai.usage.output_tokens")
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = _official(
    _gen_ai, "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS", "gen_ai.usage.cache_read.input_tokens"
)
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = _official(
    _gen_ai, "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS", "gen_ai.usage.cache_creation.input_tokens"
)
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = _official(
    _gen_ai, "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS", "gen_ai.usage.reasoning.output_tokens"
)
# The anthropic SDK's own spans (anthropic >= 2) name cache writes this way; read, never written.
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
# Deprecated names other instrumentations (OpenLLMetry) still write; read, never written.
GEN_AI_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"

GEN_AI_EMBEDDINGS_DIMENSION_COUNT = _official(
    _gen_ai, "GEN_AI_EMBEDDINGS_DIMENSION_COUNT", "gen_ai.embeddings.dimension.count"
)

GEN_AI_INPUT_MESSAGES = _official(_gen_ai, "GEN_AI_INPUT_MESSAGES", "gen_ai.input.messages")
GEN_AI_OUTPUT_MESSAGES = _official(_gen_ai, "GEN_AI_OUTPUT_MESSAGES", "gen_ai.output.messages")
GEN_AI_SYSTEM_INSTRUCTIONS = _official(_gen_ai, "GEN_AI_SYSTEM_INSTRUCTIONS", "gen_ai.system_instructions")
GEN_AI_TOOL_DEFINITIONS = _official(_gen_ai, "GEN_AI_TOOL_DEFINITIONS", "gen_ai.tool.definitions")

GEN_AI_TOOL_NAME = _official(_gen_ai, "GEN_AI_TOOL_NAME", "gen_ai.tool.name")
GEN_AI_TOOL_CALL_ID = _official(_gen_ai, "GEN_AI_TOOL_CALL_ID", "gen_ai.tool.call.id")
GEN_AI_TOOL_CALL_ARGUMENTS = _official(_gen_ai, "GEN_AI_TOOL_CALL_ARGUMENTS", "gen_ai.tool.call.arguments")
GEN_AI_TOOL_CALL_RESULT = _official(_gen_ai, "GEN_AI_TOOL_CALL_RESULT", "gen_ai.tool.call.result")
GEN_AI_AGENT_NAME = _official(_gen_ai, "GEN_AI_AGENT_NAME", "gen_ai.agent.name")

OPENAI_API_TYPE = _official(_openai, "OPENAI_API_TYPE", "openai.api.type")
OPENAI_REQUEST_SERVICE_TIER = _official(_openai, "OPENAI_REQUEST_SERVICE_TIER", "openai.request.service_tier")
OPENAI_RESPONSE_SERVICE_TIER = _official(
    _openai, "OPENAI_RESPONSE_SERVICE_TIER", "openai.response.service_tier"
)
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = _official(
    _openai, "OPENAI_RESPONSE_SYSTEM_FINGERPRINT", "openai.response.system_fingerprint"
)

AWS_BEDROCK_GUARDRAIL_ID = _official(_aws, "AWS_BEDROCK_GUARDRAIL_ID", "aws.bedrock.guardrail.id")

SERVER_ADDRESS = _server.SERVER_ADDRESS
SERVER_PORT = _server.SERVER_PORT
ERROR_TYPE = _error.ERROR_TYPE


class GenAiOperation:
    """Values of `gen_ai.operation.name`."""

    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    GENERATE_CONTENT = "generate_content"
    EMBEDDINGS = "embeddings"
    RETRIEVAL = "retrieval"
    EXECUTE_TOOL = "execute_tool"
    INVOKE_AGENT = "invoke_agent"
    INVOKE_WORKFLOW = "invoke_workflow"


class GenAiProvider:
    """Values of `gen_ai.provider.name` (the conventions' list)."""

    OPENAI = "openai"
    AZURE_OPENAI = "azure.ai.openai"
    AZURE_INFERENCE = "azure.ai.inference"
    ANTHROPIC = "anthropic"
    AWS_BEDROCK = "aws.bedrock"
    GCP_GEMINI = "gcp.gemini"
    GCP_VERTEX_AI = "gcp.vertex_ai"
    GCP_GEN_AI = "gcp.gen_ai"
    COHERE = "cohere"
    DEEPSEEK = "deepseek"
    GROQ = "groq"
    MISTRAL_AI = "mistral_ai"
    PERPLEXITY = "perplexity"
    X_AI = "x_ai"
    IBM_WATSONX_AI = "ibm.watsonx.ai"


# -- Names with no convention, read by Opik's OTLP ingestion and other GenAI back ends --
INPUT_VALUE = "input.value"
OUTPUT_VALUE = "output.value"
INPUT_MIME_TYPE = "input.mime_type"  # "application/json": the value is JSON, whatever its type
OUTPUT_MIME_TYPE = "output.mime_type"
JSON_MIME_TYPE = "application/json"

# -- Opik extras (not in the conventions) -----------------------------------------------
GEN_AI_USAGE_COST = "gen_ai.usage.cost"  # USD, float, only on the span that made the billed call
OPIK_TAGS = "opik.tags"  # string array
OPIK_METADATA_PREFIX = "opik.metadata."  # opik.metadata.<key>
OPIK_PROJECT_NAME = "opik.project_name"  # routes a span (and its trace) to an Opik project
OPIK_SPAN_TYPE = "opik.span.type"  # explicit Opik span type: general | tool | llm | guardrail
# Set on a trace's root span by `update_current_trace()`: the Opik trace's own fields.
OPIK_TRACE_PREFIX = "opik.trace."
OPIK_TRACE_NAME = "opik.trace.name"
OPIK_TRACE_INPUT = "opik.trace.input"  # JSON
OPIK_TRACE_OUTPUT = "opik.trace.output"  # JSON
OPIK_TRACE_TAGS = "opik.trace.tags"  # string array
OPIK_TRACE_METADATA_PREFIX = "opik.trace.metadata."  # opik.trace.metadata.<key>

# -- Other instrumentations' names, read by the usage/cost processor -------------------
LLM_MODEL_NAME = "llm.model_name"  # OpenInference
LLM_PROVIDER = "llm.provider"
LLM_SYSTEM = "llm.system"
LLM_TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
LLM_TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
LLM_TOKEN_COUNT_TOTAL = "llm.token_count.total"
LLM_TOKEN_COUNT_PROMPT_CACHE_READ = "llm.token_count.prompt_details.cache_read"
LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
LLM_TOKEN_COUNT_COMPLETION_REASONING = "llm.token_count.completion_details.reasoning"
LLM_USAGE_TOTAL_TOKENS = "llm.usage.total_tokens"  # OpenLLMetry
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS_OPENLLMETRY = "gen_ai.usage.cache_read_input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS_OPENLLMETRY = "gen_ai.usage.cache_creation_input_tokens"

__all__ = [name for name in dir() if name.isupper() or name in ("GenAiOperation", "GenAiProvider")]
