"""Alarms (to an SNS topic) and a dashboard for deliveries, retries, inbound traffic and DLQs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import declaration as decl
from infra.constructs.api import HttpApi
from infra.constructs.functions import Functions
from infra.constructs.nag import acknowledge
from infra.constructs.naming import METRICS_NAMESPACE, SERVICE_NAME
from infra.constructs.queues import Queues
from infra.constructs.retries import RetryStateMachine
from shared.core import resources as res

FAILURE_RATE_THRESHOLD = 0.2
FAILURE_RATE_PERIOD = Duration.minutes(15)
DLQ_MAX_AGE_SECONDS = 3600
API_5XX_THRESHOLD = 5
ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)


def app_metric(name: str, period: Duration = ONE_MINUTE, service: str = SERVICE_NAME) -> cw.Metric:
    """A Powertools metric: namespace and `service` dimension as the functions' environment sets
    (the service is the stage's, so two stages' alarms never count each other's deliveries)."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=cw.Stats.SUM,
        period=period,
        label=name,
    )


class Monitoring(Construct):
    """`topic` receives every alarm; `alarm_email`, when given, is subscribed to it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queues: Queues,
        retries: RetryStateMachine,
        functions: Functions,
        api: HttpApi,
        service_name: str = SERVICE_NAME,
        alarm_email: str | None = None,
        public_urls: tuple[decl.PublicUrl, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.service_name = service_name
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="Serverless Webhooks alarms", enforce_ssl=True
        )
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "Alarm notifications name an alarm and a metric, nothing confidential; CloudWatch "
            "alarms cannot publish to a topic under the AWS-managed aws/sns key, and a customer "
            "key would cost money while idle.",
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cw.Alarm] = []
        self._dlq_alarms(queues)
        self._delivery_failure_alarm()
        self._alarm(
            "Api5xx",
            api.api.metric_server_error(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
            API_5XX_THRESHOLD,
            "More than 5 server errors from the HTTP API in 5 minutes.",
        )
        for url in public_urls:  # answers that skip the API (README: Deploying to AWS)
            self._alarm(
                f"{url.output}5xx",
                functions.function(url.function).metric(
                    "Url5xxCount", period=FIVE_MINUTES, statistic=cw.Stats.SUM
                ),
                API_5XX_THRESHOLD,
                f"More than 5 server errors from the {url.function.name} function URL in 5 "
                "minutes.",
            )
        action = cw_actions.SnsAction(self.topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
        self.dashboard = self._dashboard(queues, retries, functions)

    def _metric(self, name: str, period: Duration = ONE_MINUTE) -> cw.Metric:
        return app_metric(name, period, self.service_name)

    def _alarm(self, construct_id: str, metric: cw.IMetric, threshold: float, text: str) -> None:
        self.alarms.append(
            cw.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=text,
            )
        )

    def _dlq_alarms(self, queues: Queues) -> None:
        for spec in res.QUEUES:
            dlq = queues.dlq(spec)
            self._alarm(
                f"{spec.logical_id}DLQNotEmpty",
                dlq.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic=cw.Stats.MAXIMUM
                ),
                0,
                f"Messages are waiting in the {spec.logical_id} dead-letter queue.",
            )
            self._alarm(
                f"{spec.logical_id}DLQOldMessage",
                dlq.metric_approximate_age_of_oldest_message(
                    period=FIVE_MINUTES, statistic=cw.Stats.MAXIMUM
                ),
                DLQ_MAX_AGE_SECONDS,
                f"A message has waited over an hour in the {spec.logical_id} dead-letter queue.",
            )

    def _delivery_failure_alarm(self) -> None:
        failed = self._metric("DeliveryFailed", FAILURE_RATE_PERIOD)
        succeeded = self._metric("DeliverySucceeded", FAILURE_RATE_PERIOD)
        rate = cw.MathExpression(
            expression="IF(FILL(f, 0) + FILL(s, 0) > 0, FILL(f, 0) / (FILL(f, 0) + FILL(s, 0)), 0)",
            using_metrics={"f": failed, "s": succeeded},
            period=FAILURE_RATE_PERIOD,
            label="Delivery failure rate",
        )
        self._alarm(
            "DeliveryFailureRate",
            rate,
            FAILURE_RATE_THRESHOLD,
            "More than 20 % of delivery attempts failed over 15 minutes.",
        )

    def _dashboard(
        self, queues: Queues, retries: RetryStateMachine, functions: Functions
    ) -> cw.Dashboard:
        succeeded, failed = self._metric("DeliverySucceeded"), self._metric("DeliveryFailed")
        machine = retries.state_machine
        widgets: list[cw.IWidget] = [
            graph("Deliveries per minute", [succeeded, failed]),
            graph(
                "Delivery success rate (%)",
                [
                    cw.MathExpression(
                        expression="100 * s / (s + f)",
                        using_metrics={"s": succeeded, "f": failed},
                        label="Success rate",
                        period=ONE_MINUTE,
                    )
                ],
            ),
            graph(
                "Retry backlog",
                [
                    self._metric("DeliveryRetried"),
                    machine.metric_started(period=ONE_MINUTE),
                    machine.metric_succeeded(period=ONE_MINUTE),
                ],
            ),
            graph("Inbound webhooks received", [self._metric("InboundReceived")]),
            # Per source from the log lines, not a metric dimension: a dimension value is a custom
            # metric billed every month, per source, idle or not; a Logs Insights query is billed
            # only when someone looks (by the bytes it scans).
            cw.LogQueryWidget(
                title="Inbound webhooks per source (last received first)",
                log_group_names=[functions.log_groups["inbound"].log_group_name],
                query_lines=[
                    'filter message = "inbound received"',
                    "stats count(*) as received by source_id",
                    "sort received desc",
                    "limit 20",
                ],
                width=8,
                height=6,
            ),
            graph(
                "Dead-letter queue depth",
                [
                    queues.dlq(spec).metric_approximate_number_of_messages_visible(
                        label=f"{spec.logical_id}DLQ", period=ONE_MINUTE
                    )
                    for spec in res.QUEUES
                ],
            ),
        ]
        for spec in decl.FUNCTIONS:
            fn = functions.function(spec)
            widgets.append(
                graph(
                    f"{spec.name} duration (ms)",
                    [
                        fn.metric_duration(statistic="p50", label="p50", period=ONE_MINUTE),
                        fn.metric_duration(statistic="p99", label="p99", period=ONE_MINUTE),
                    ],
                )
            )
        rows = [widgets[i : i + 3] for i in range(0, len(widgets), 3)]
        return cw.Dashboard(self, "Dashboard", widgets=rows)


def graph(title: str, metrics: Sequence[cw.IMetric]) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=list(metrics), width=8, height=6)
