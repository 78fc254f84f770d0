"""A sandbox Zammad: an in-process HTTP server implementing the part of Zammad 6.x that kesu uses.

    from connector.zammad.sandbox import SandboxZammad

    with SandboxZammad(retry_scale=0.01) as zammad:
        token = zammad.token_for("kesu-bot@localhost")
        ...  # talk to zammad.url + "/api/v1" like to a real Zammad

Modules: ``model`` (state, shapes, transactions and triggers), ``conditions`` (Zammad selectors),
``webhooks`` (delivery worker pool), ``app`` (ASGI app: routes, auth, errors, fault injection),
``server`` (``SandboxZammad``: uvicorn thread, helpers, test hooks). Run standalone with
``python -m connector.zammad.sandbox --port 3000``.
"""

from .model import ApiError, Job, TransactionRecord
from .server import Fault, SandboxZammad
from .webhooks import DeliveryRecord, signature

__all__ = ["SandboxZammad", "Fault", "DeliveryRecord", "TransactionRecord", "Job", "ApiError", "signature"]
