"""trio-gemini-live: a Trio-native client for the Gemini Live API."""

from . import events as events
from . import models as models
from ._auth import ApiKey as ApiKey
from ._auth import Auth as Auth
from ._auth import ConnectTarget as ConnectTarget
from ._auth import EphemeralToken as EphemeralToken
from ._auth import VertexAI as VertexAI
from ._config import LiveConfig as LiveConfig
from ._errors import AuthError as AuthError
from ._errors import AuthRejectedError as AuthRejectedError
from ._errors import InvalidArgumentError as InvalidArgumentError
from ._errors import LiveError as LiveError
from ._errors import NotFoundError as NotFoundError
from ._errors import ProtocolError as ProtocolError
from ._errors import QuotaExceededError as QuotaExceededError
from ._errors import SessionClosedError as SessionClosedError
from ._errors import SetupError as SetupError
from ._errors import SlowConsumerError as SlowConsumerError
from ._errors import TransientError as TransientError
from ._latency import LatencyStatistics as LatencyStatistics
from ._open import open_live_session as open_live_session
from ._options import SessionStatistics as SessionStatistics
from ._protocol import Status as Status
from ._resume import ReconnectPolicy as ReconnectPolicy
from ._session import LiveSession as LiveSession
from ._tokens import TokenAuthError as TokenAuthError
from ._tokens import TokenRequestError as TokenRequestError
from ._tokens import create_ephemeral_token as create_ephemeral_token
from ._transcript import Turn as Turn
from ._transcript import history_from_turns as history_from_turns
from ._version import __version__ as __version__
from ._wire import Blob as Blob
from ._wire import Content as Content
from ._wire import FunctionCall as FunctionCall
from ._wire import FunctionDeclaration as FunctionDeclaration
from ._wire import FunctionResponse as FunctionResponse
from ._wire import Part as Part
from ._wire import Schema as Schema
from ._wire import Tool as Tool

__all__ = [
    "ApiKey",
    "Auth",
    "AuthError",
    "AuthRejectedError",
    "Blob",
    "ConnectTarget",
    "Content",
    "EphemeralToken",
    "FunctionCall",
    "FunctionDeclaration",
    "FunctionResponse",
    "InvalidArgumentError",
    "LatencyStatistics",
    "LiveConfig",
    "LiveError",
    "LiveSession",
    "NotFoundError",
    "Part",
    "ProtocolError",
    "QuotaExceededError",
    "ReconnectPolicy",
    "Schema",
    "SessionClosedError",
    "SessionStatistics",
    "SetupError",
    "SlowConsumerError",
    "Status",
    "TokenAuthError",
    "TokenRequestError",
    "Tool",
    "TransientError",
    "Turn",
    "VertexAI",
    "__version__",
    "create_ephemeral_token",
    "events",
    "history_from_turns",
    "models",
    "open_live_session",
]

# The exceptions print as users import them (issue 14): a traceback ends in
# "trio_gemini_live.AuthRejectedError: ...", not "trio_gemini_live._errors.AuthRejectedError",
# and pickles name the public path, which stays valid when private modules move (trio does
# the same). Only exceptions: msgspec and typing resolve other classes' string annotations
# in the module named by __module__, which must stay the defining one.
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) and issubclass(_value, BaseException):
        _value.__module__ = __name__
del _name, _value
