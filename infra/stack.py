"""The one stack: storage, queues, retry state machine, functions, HTTP API, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aspects, CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import declaration as decl
from infra.constructs.access import Resources
from infra.constructs.api import HttpApi
from infra.constructs.functions import Functions
from infra.constructs.monitoring import Monitoring
from infra.constructs.naming import STACK_NAME, kebab_case
from infra.constructs.queues import Queues
from infra.constructs.retries import RetryStateMachine
from infra.constructs.secrets import AdminApiKey
from infra.constructs.storage import Storage
from infra.constructs.wildcards import wildcard_acknowledger
from shared.core import resources as res
from shared.core.config import (
    DEFAULT_RETENTION_DAYS,
    INBOUND_BASE_URL_ENV,
    RETENTION_ENV,
    STRICT_EVENT_TYPES_ENV,
)

__all__ = ["STACK_NAME", "ServerlessWebhooksStack"]


class ServerlessWebhooksStack(Stack):
    """Everything `cdk deploy` creates; context `alarm_email` subscribes an address to alarms,
    context `retention_days` (default 30) sets how long events, deliveries and raw bodies stay.

    Every name the stack picks itself derives from the stack name (`name_prefix`), so stages
    deployed as differently named stacks share an account and region without a clash.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str = STACK_NAME,
        *,
        reserve_worker_concurrency: bool = False,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        strict_event_types: bool = False,
        retired_indexes_kept: int = 0,
        public_urls: tuple[decl.PublicUrl, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # `serverless-webhooks[-<stage>]`: the prefix of per-user and per-source secrets
        # (shared.store.secrets builds the names), the metrics `service` and the vended log groups.
        self.name_prefix = kebab_case(self.stack_name)
        self.secret_prefix = self.name_prefix
        self.storage = Storage(
            self,
            "Storage",
            retention_days=retention_days,
            retired_indexes_kept=retired_indexes_kept,
        )
        self.queues = Queues(self, "Queues")
        self.retries = RetryStateMachine(
            self,
            "Retries",
            delivery_queue=self.queues.queue(res.DELIVERY_QUEUE),
            name_prefix=self.name_prefix,
        )
        self.admin_key = AdminApiKey(self, "AdminApiKey", secret_prefix=self.secret_prefix)
        self.functions = Functions(
            self,
            "Functions",
            resources=Resources(
                storage=self.storage,
                queues=self.queues,
                retry_state_machine=self.retries.state_machine,
                admin_secret=self.admin_key.secret,
                secret_prefix=self.secret_prefix,
            ),
            service_name=self.name_prefix,
            reserve_worker_concurrency=reserve_worker_concurrency,
        )
        self.http_api = HttpApi(
            self, "Http", functions=self.functions, name_prefix=self.name_prefix
        )
        # No cycle: functions reference the API's id; the API itself references no function
        # (integrations and routes do).
        self.functions.add_environment("PUBLIC_BASE_URL", self.http_api.url)
        # Events and deliveries expire by TTL after as many days as the raw bodies (README).
        self.functions.add_environment(RETENTION_ENV, str(retention_days))
        if strict_event_types:  # README "Event type catalog"; only publish checks types
            self.functions.function(decl.PUBLISH).add_environment(STRICT_EVENT_TYPES_ENV, "1")
        self.public_urls = {spec.output: self._public_url(spec) for spec in public_urls}
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            queues=self.queues,
            retries=self.retries,
            functions=self.functions,
            api=self.http_api,
            service_name=self.name_prefix,
            alarm_email=self.node.try_get_context("alarm_email"),
            public_urls=public_urls,
        )
        Aspects.of(self).add(wildcard_acknowledger(self.storage.raw_bodies, self.secret_prefix))
        CfnOutput(self, "ApiUrl", value=self.http_api.url, description="Base URL of the API")
        for spec in public_urls:
            CfnOutput(
                self,
                spec.output,
                value=self.public_urls[spec.output].url,
                description=spec.description,
            )
        CfnOutput(
            self,
            "AdminApiKeySecret",
            value=self.admin_key.secret_name,
            description="Secrets Manager secret holding the first admin API key (api_key)",
        )

    def _public_url(self, spec: decl.PublicUrl) -> lambda_.FunctionUrl:
        """`-c <spec.context>=true` (README: Deploying to AWS): callers reach the function through
        its own public function URL, which Lambda does not bill per request, instead of the API's
        route (API Gateway: $1.00 per million). The function checks every request itself, as it
        does behind the route (a provider's signature; an API key). For the inbound function the
        API hands out this URL as each source's `inbound_url`: only the API function gets it, as
        the inbound function naming its own URL would be a cycle."""
        target = self.functions.function(spec.function)
        url = target.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        # Anyone may call a public URL, and no API stage throttles it: reserved concurrency caps
        # the function (a flood gets 429s, which callers retry) and keeps the rest of the
        # account's pool for the API and the workers.
        function = target.node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        function.reserved_concurrent_executions = spec.concurrency
        if spec is decl.INBOUND_URL:
            self.functions.function(decl.API).add_environment(INBOUND_BASE_URL_ENV, url.url)
        return url
