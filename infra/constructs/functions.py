"""One Lambda function per infra.declaration.FUNCTIONS entry, all on one dependency layer."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import declaration as decl
from infra.bundling import LAMBDA_RUNTIME, dependency_layer_code, function_code
from infra.constructs.access import Resources, grant_declared_access
from infra.constructs.nag import acknowledge
from infra.constructs.naming import METRICS_NAMESPACE, pascal_case


class Functions(Construct):
    """`functions[spec.name]`; each has its own role and a one-month log group.

    `service_name` is the stage's Powertools service (its metrics dimension and log field);
    `reserve_worker_concurrency` reserves each queue worker's maximum concurrency.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resources: Resources,
        service_name: str,
        reserve_worker_concurrency: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.reserve_worker_concurrency = reserve_worker_concurrency
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=dependency_layer_code(),
            compatible_runtimes=[LAMBDA_RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="Runtime dependencies from pyproject.toml (boto3 comes with Lambda).",
        )
        environment = {
            **resources.common_environment(),
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }
        acknowledge(
            self,
            "AwsSolutions-L1",
            "python3.12 on purpose (3.12 or 3.13 are supported): the layer's binary wheels "
            "(pydantic-core) are built for cp312 from the same constant in infra/bundling.py, "
            "so runtime and layer can only move together.",
        )
        self.functions: dict[str, lambda_.Function] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for spec in decl.FUNCTIONS:
            fn = self._function(spec, environment)
            grant_declared_access(fn, spec, resources)
            self.functions[spec.name] = fn
        self._update_the_worker_first()

    def _update_the_worker_first(self) -> None:
        """The functions that publish are updated after the delivery worker (CloudFormation
        updates a resource after those it depends on, and rolls back in reverse): a published
        delivery's record is written by its first attempt (README "Delivery semantics"), which a
        worker of a release before that would take for a delivery that is gone."""
        worker = self.functions[decl.DELIVERY_WORKER.name]
        for spec in decl.PUBLISHERS:
            self.functions[spec.name].node.add_dependency(worker)

    def function(self, spec: decl.Function) -> lambda_.Function:
        return self.functions[spec.name]

    def add_environment(self, key: str, value: str) -> None:
        """For values known only once other constructs exist (the API's URL)."""
        for fn in self.functions.values():
            fn.add_environment(key, value)

    def _function(self, spec: decl.Function, environment: dict[str, str]) -> lambda_.Function:
        construct_id = pascal_case(spec.name)
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An own role instead of AWSLambdaBasicExecutionRole: logs go to this one group only.
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        log_group.grant_write(role)
        self.log_groups[spec.name] = log_group
        return lambda_.Function(
            self,
            construct_id,
            description=f"Serverless Webhooks: {spec.name}",
            runtime=LAMBDA_RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=spec.handler,
            code=function_code(spec.name),
            layers=[self.layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            environment={**dict(environment), **dict(spec.settings)},
            log_group=log_group,
            role=role,
            reserved_concurrent_executions=self._reserved_concurrency(spec),
        )

    def _reserved_concurrency(self, spec: decl.Function) -> int | None:
        """None (see infra/declaration.py), or on request the worker's event source maximum: the
        mapping then never invokes more than the function may run, so it is never throttled."""
        if not self.reserve_worker_concurrency or spec.consumes is None:
            return None
        return spec.consumes.max_concurrency
