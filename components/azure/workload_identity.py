"""Azure Workload Identity: one Kubernetes service account may read and write one blob container."""

from __future__ import annotations

import re

import pulumi
import pulumi_azure_native as azure
from pydantic import BaseModel, ConfigDict, Field

from components.azure.roles import STORAGE_BLOB_DATA_CONTRIBUTOR
from components.naming import DNS_LABEL
from components.tags import StandardTags, azure_tags

#: The audience AKS-projected service account tokens carry for Entra ID token exchange.
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
#: Annotation / label the AKS workload identity webhook reads.
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
USE_LABEL = "azure.workload.identity/use"
# STORAGE_BLOB_DATA_CONTRIBUTOR stays importable from here (the role the grant gives).
__all__ = ["CLIENT_ID_ANNOTATION", "STORAGE_BLOB_DATA_CONTRIBUTOR", "TOKEN_EXCHANGE_AUDIENCE",
           "USE_LABEL", "StoreAccess", "StoreAccessArgs", "subject"]
_SUBSCRIPTION = re.compile(r"^/subscriptions/[^/]+", re.IGNORECASE)


def subject(namespace: str, service_account: str) -> str:
    """The `sub` claim of a Kubernetes service account token."""
    return f"system:serviceaccount:{namespace}:{service_account}"


def _role_definition(account_id: str) -> str:
    match = _SUBSCRIPTION.match(account_id)
    if match is None:
        raise ValueError(f"{account_id!r} is not an Azure resource id")
    # The subscription prefix as the account id spells it (its case included).
    return (f"{match.group(0)}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{STORAGE_BLOB_DATA_CONTRIBUTOR}")


class StoreAccessArgs(BaseModel):
    """Arguments of a workload-identity grant on one Azure blob container."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    namespace: str = Field(pattern=DNS_LABEL, max_length=63,
                           description="Namespace of the Kubernetes service account.")
    service_account: str = Field(pattern=DNS_LABEL, max_length=63,
                                 description="Name of the Kubernetes service account.")
    tags: StandardTags = Field(description="Standard tags put on the identity.")
    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    resource_group_name: str | pulumi.Output[str] = Field(
        description="Resource group of the managed identity.")
    location: str = Field(description="Azure location of the managed identity.")
    oidc_issuer_url: str | pulumi.Output[str] = Field(
        description="OIDC issuer URL of the AKS cluster the service account lives in.")
    storage_account_id: str | pulumi.Output[str] = Field(
        description="Resource id of the storage account (`ArtifactStore.account_id`).")
    container_name: str | pulumi.Output[str] = Field(
        description="The blob container the service account may use, and nothing else.")
    subscription_id: str | None = Field(default=None, description=(
        "Subscription of the built-in role definition; None: the storage account's own."))


class StoreAccess(pulumi.ComponentResource):
    """Azure Workload Identity for one service account on one blob container.

    Creates a user-assigned managed identity, a federated identity credential trusting the
    cluster's OIDC issuer for exactly `system:serviceaccount:<namespace>:<service_account>`
    (audience `api://AzureADTokenExchange`), and a "Storage Blob Data Contributor" role
    assignment scoped to the container (not the account). No keys or secrets exist: the pod
    exchanges its projected service account token for an Entra ID token.

    Put `service_account_annotations` on the ServiceAccount and `pod_labels` on the pod
    template (the AKS workload identity webhook then injects the token and client id).
    """

    service_account_annotations: dict[str, pulumi.Input[str]]
    pod_labels: dict[str, str]
    client_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]

    def __init__(self, name: str, args: StoreAccessArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:StoreAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identity_name = f"id-{args.prefix}-{args.namespace}-{args.service_account}"[:128]
        identity = azure.managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=azure_tags(args.tags),
            opts=child,
        )
        credential = azure.managedidentity.FederatedIdentityCredential(
            f"{name}-federation",
            federated_identity_credential_resource_name=f"{args.namespace}-{args.service_account}",
            resource_name_=identity.name,
            resource_group_name=args.resource_group_name,
            issuer=args.oidc_issuer_url,
            subject=subject(args.namespace, args.service_account),
            audiences=[TOKEN_EXCHANGE_AUDIENCE],
            opts=child,
        )
        account_id = pulumi.Output.from_input(args.storage_account_id)
        grant = azure.authorization.RoleAssignment(
            f"{name}-blob-grant",
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=(
                _role_definition(f"/subscriptions/{args.subscription_id}")
                if args.subscription_id else account_id.apply(_role_definition)),
            scope=pulumi.Output.concat(account_id, "/blobServices/default/containers/",
                                       args.container_name),
            opts=child,
        )

        # Known only once the grant and the federation exist, so a pod started with these
        # annotations can get a token and use the container right away.
        self.client_id = pulumi.Output.all(identity.client_id, credential.id, grant.id).apply(
            lambda values: values[0])
        self.principal_id = identity.principal_id
        self.service_account_annotations = {CLIENT_ID_ANNOTATION: self.client_id}
        self.pod_labels = {USE_LABEL: "true"}
        self.register_outputs({
            "service_account_annotations": self.service_account_annotations,
            "pod_labels": self.pod_labels,
            "client_id": self.client_id,
            "principal_id": self.principal_id,
        })
