"""The first admin API key: generated at deploy time, read by the API function and by operators."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.nag import acknowledge


class AdminApiKey(Construct):
    """`secret` holds `{"api_key": "<40 alphanumerics>"}` under `<prefix>/admin-api-key`."""

    def __init__(self, scope: Construct, construct_id: str, *, secret_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.secret_name = f"{secret_prefix}/admin-api-key"
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            # The same name local mode uses, so operators find the key the same way in both.
            secret_name=self.secret_name,
            description="First admin API key of Serverless Webhooks (x-api-key header).",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 - an empty JSON object, not a password
                generate_string_key="api_key",
                exclude_punctuation=True,
                password_length=40,
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "A bootstrap credential, not a service password: admins create and revoke their own "
            "keys through the API, and rotating this one means putting a new value by hand; a "
            "rotation Lambda would add code and cost for a key meant to be replaced after setup.",
        )
