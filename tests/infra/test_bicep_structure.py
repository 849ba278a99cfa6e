"""Structural checks that tie the Bicep to the code: the hub, the webhook, the runtime and the
app settings function_app.py and shared/settings.py read; and that no output leaks a key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from azure_adapter.table_names import HISTORY_TABLE, ROOMS_TABLE
from shared.settings import env_name
from tests.infra import tools

Trees = dict[Path, dict[str, Any]]


def resource(tree: dict[str, Any], name: str) -> dict[str, Any]:
    return tree["resources"][name]["config"]


def app_settings(trees: Trees) -> dict[str, Any]:
    site = resource(trees[tools.FUNCTION_BICEP], "functionApp")
    settings = site["properties"]["siteConfig"]["appSettings"]
    names = [item["name"] for item in settings]
    assert len(names) == len(set(names)), f"duplicate app settings: {names}"
    return {item["name"]: item["value"] for item in settings}


# --- the hub name: one default, DEFAULT_HUB in shared/settings.py --------------------------


def test_main_hub_default_is_the_codes_default_hub(trees: Trees) -> None:
    assert tools.param_default(trees[tools.MAIN_BICEP], "hubName") == tools.default_hub()


def test_the_hub_module_takes_the_hub_from_main(trees: Trees) -> None:
    hub_tree = trees[tools.HUB_BICEP]
    assert tools.param_default(hub_tree, "hubName") is None, "the hub module must not carry its own default"
    assert resource(hub_tree, "hub")["name"] == "hubName"
    assert trees[tools.MAIN_BICEP]["modules"]["socketioHub"]["config"]["config"]["params"]["hubName"] == "hubName"


def test_the_function_app_gets_the_same_hub(trees: Trees) -> None:
    assert app_settings(trees)["CODESTREAM_HUB"] == "hubName"
    assert tools.param_default(trees[tools.FUNCTION_BICEP], "hubName") is None
    assert trees[tools.MAIN_BICEP]["modules"]["functionApp"]["config"]["params"]["hubName"] == "hubName"


def test_the_deploy_script_and_azd_default_to_the_same_hub() -> None:
    hub = tools.default_hub()
    script = tools.DEPLOY_SH.read_text(encoding="utf-8")
    assert re.search(r"^HUB=\$\{CODESTREAM_HUB:-([^}]*)\}$", script, re.M).group(1) == hub
    parameters = (tools.INFRA / "main.parameters.json").read_text(encoding="utf-8")
    assert f'"${{CODESTREAM_HUB={hub}}}"' in parameters


# --- the event handler -----------------------------------------------------------------------


def event_handler(trees: Trees) -> dict[str, Any]:
    hub = resource(trees[tools.HUB_BICEP], "hub")
    handlers = hub["properties"]["eventHandlers"]
    assert len(handlers) == 1
    return handlers[0]


def test_the_handler_calls_the_socketio_webhook_with_the_extension_key(trees: Trees) -> None:
    tree = trees[tools.HUB_BICEP]
    assert tools.variable(tree, "webhookPath") == tools.WEBHOOK_PATH
    url = event_handler(trees)["urlTemplate"]
    assert url == (
        "https://${functionApp.properties.defaultHostName}${webhookPath}"
        "?code=${functionHost.listKeys().systemKeys.socketio_extension}"
    )
    host = tree["resources"]["functionHost"]
    assert (host["type"], host["existing"], host["config"]["name"], host["config"]["parent"]) == (
        "Microsoft.Web/sites/host",
        True,
        "default",
        "functionApp",
    )


def test_the_handler_takes_every_user_event_and_the_three_system_events(trees: Trees) -> None:
    handler = event_handler(trees)
    assert handler["userEventPattern"] == "*"
    assert handler["systemEvents"] == "systemEvents"
    assert tools.variable(trees[tools.HUB_BICEP], "systemEvents") == tools.SYSTEM_EVENTS


def test_the_hub_denies_anonymous_clients(trees: Trees) -> None:
    hub = trees[tools.HUB_BICEP]["resources"]["hub"]
    assert hub["type"] == "Microsoft.SignalRService/webPubSub/hubs"
    assert hub["config"]["properties"]["anonymousConnectPolicy"] == "deny"


def test_the_hub_waits_for_the_code(trees: Trees) -> None:
    """The key exists only once the code runs: main deploys the hub only when asked to."""
    main = trees[tools.MAIN_BICEP]
    assert main["modules"]["socketioHub"]["config"]["condition"] == "wireEventHandler"
    assert tools.param_default(main, "wireEventHandler") is False


# --- the service -----------------------------------------------------------------------------


def test_web_pubsub_is_socketio_in_serverless_mode(trees: Trees) -> None:
    tree = trees[tools.INFRA / "modules" / "webpubsub.bicep"]
    service = tree["resources"]["webPubSub"]
    assert service["type"] == "Microsoft.SignalRService/webPubSub"
    config = service["config"]
    assert config["kind"] == "SocketIO"
    assert config["properties"]["socketIO"] == {"serviceMode": "Serverless"}
    assert config["properties"]["disableLocalAuth"] is True
    sku = tools.decorator(tree["parameters"]["skuName"], "allowed")["argument"]
    assert sku == ["Free_F1", "Standard_S1", "Premium_P1"]
    assert tools.param_default(tree, "skuName") == "Free_F1"
    assert tools.param_default(trees[tools.MAIN_BICEP], "webPubSubSku") == "Free_F1"


# --- the Function App ------------------------------------------------------------------------


def test_the_runtime_is_the_repositorys_python(trees: Trees) -> None:
    version = tools.python_version()
    assert tools.variable(trees[tools.MAIN_BICEP], "pythonVersion") == version
    assert trees[tools.MAIN_BICEP]["modules"]["functionApp"]["config"]["params"]["pythonVersion"] == "pythonVersion"
    function_tree = trees[tools.FUNCTION_BICEP]
    assert tools.param_default(function_tree, "pythonVersion") == version
    runtime = resource(function_tree, "functionApp")["properties"]["functionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "pythonVersion"}


def test_the_worker_is_pinned_for_a_python_with_runtime_versioning() -> None:
    """From Python 3.13, an app that lists azure-functions-runtime runs on exactly that worker."""
    major, minor = (int(part) for part in tools.python_version().split("."))
    assert (major, minor) >= (3, 13), "the Function App targets Python 3.13+ (issue 11)"
    pins = {}
    for line in (tools.REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[name.lower()] = version
    assert pins.get("azure-functions-runtime"), "requirements.txt must pin azure-functions-runtime"
    assert pins.get("azure-functions", "").startswith("2."), "azure-functions 2.x is the Python 3.13 line"
    assert pins.get("azure-functions-durable")


def test_the_function_app_is_flex_consumption_with_its_own_identity(trees: Trees) -> None:
    tree = trees[tools.FUNCTION_BICEP]
    plan = resource(tree, "plan")
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = resource(tree, "functionApp")
    assert site["kind"] == "functionapp,linux"
    assert site["identity"] == {"type": "SystemAssigned"}
    assert site["properties"]["httpsOnly"] is True
    storage = site["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "SystemAssignedIdentity"}


def test_the_app_settings_are_the_ones_the_code_reads(trees: Trees) -> None:
    settings = app_settings(trees)
    assert settings["WebPubSubForSocketIOConnectionString__credential"] == "managedidentity"
    assert settings["WebPubSubForSocketIOConnectionString__endpoint"] == "https://${webPubSub.properties.hostName}"
    assert "WebPubSubForSocketIOConnectionString" not in settings, "use the identity form, not a key"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    for service in ("blob", "queue", "table"):
        assert f"AzureWebJobsStorage__{service}ServiceUri" in settings
    assert settings["CODESTREAM_SECRET"] == "codestreamSecret"
    assert tools.decorator(trees[tools.FUNCTION_BICEP]["parameters"]["codestreamSecret"], "secure")
    assert tools.decorator(trees[tools.MAIN_BICEP]["parameters"]["codestreamSecret"], "secure")
    assert tools.param_default(trees[tools.MAIN_BICEP], "codestreamSecret") is None
    origins = settings["CODESTREAM_ALLOWED_ORIGINS"]
    assert origins == {"function": {"type": "join", "parameters": {"input_array": "allowedOrigins", "delimiter": ","}}}
    # Flex Consumption rejects these: the runtime comes from functionAppConfig.
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "AzureWebJobsStorage"} & set(settings)


def test_cors_allows_the_static_site(trees: Trees) -> None:
    site = resource(trees[tools.FUNCTION_BICEP], "functionApp")
    assert site["properties"]["siteConfig"]["cors"]["allowedOrigins"] == "allowedOrigins"
    allowed = trees[tools.MAIN_BICEP]["modules"]["functionApp"]["config"]["params"]["allowedOrigins"]
    first = allowed["function"]["parameters"]["arg_1"]
    assert first == ["https://${staticWebApp.outputs.defaultHostname}"]


ROLE_IDS = {
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "webPubSubServiceOwner": "12cf5a90-567b-43ae-8102-96cf46c7d9b4",
}


def test_the_identity_gets_the_roles_its_settings_need(trees: Trees) -> None:
    tree = trees[tools.INFRA / "modules" / "roles.bicep"]
    for name, role_id in ROLE_IDS.items():
        assert tools.variable(tree, name) == role_id, name
    assert tools.variable(tree, "storageRoles") == [
        "storageBlobDataOwner",
        "storageQueueDataContributor",
        "storageTableDataContributor",
    ]
    assignments = {name: r["config"] for name, r in tree["resources"].items() if not r["existing"]}
    storage_loop = assignments["storageAccess"]
    assert storage_loop["loop_type"]["detail"] == {"item_name": "roleId", "array_name": "storageRoles"}
    assignments["storageAccess"] = storage_loop["config"]
    scopes = {name: config["scope"] for name, config in assignments.items()}
    assert scopes == {"storageAccess": "storage", "telemetryAccess": "appInsights", "webPubSubAccess": "webPubSub"}


def test_the_app_tables_are_made_in_the_host_storage(trees: Trees) -> None:
    """The history and the rooms' index (azure_adapter/table_names.py), under the Table service
    the identity holds Storage Table Data Contributor on (the test above)."""
    tree = trees[tools.INFRA / "modules" / "storage.bicep"]
    assert tools.variable(tree, "historyTableName") == HISTORY_TABLE
    assert tools.variable(tree, "roomsTableName") == ROOMS_TABLE
    tables = {name: r["config"] for name, r in tree["resources"].items() if r["type"].endswith("/tables")}
    assert {name: (t["parent"], t["name"]) for name, t in tables.items()} == {
        "historyTable": ("tableService", "historyTableName"),
        "roomsTable": ("tableService", "roomsTableName"),
    }
    assert resource(tree, "tableService")["parent"] == "storage"


def test_the_static_web_app_is_free(trees: Trees) -> None:
    site = trees[tools.INFRA / "modules" / "staticwebapp.bicep"]["resources"]["site"]
    assert site["type"] == "Microsoft.Web/staticSites"
    assert site["config"]["sku"] == {"name": "Free", "tier": "Free"}


def test_main_outputs_what_the_deploy_script_reads(trees: Trees) -> None:
    outputs = trees[tools.MAIN_BICEP]["outputs"]
    script = tools.DEPLOY_SH.read_text(encoding="utf-8")
    names = re.search(r"^OUTPUT_NAMES=\(([^)]*)\)$", script, re.M).group(1).split()
    assert set(names) <= set(outputs)
    assert outputs["API_BASE_URL"]["value"] == "https://${functionApp.outputs.defaultHostName}"


# --- no secrets out --------------------------------------------------------------------------


def test_no_output_holds_a_key_or_secret(trees: Trees) -> None:
    leaks = {path.name: tools.leaky_outputs(tree) for path, tree in trees.items()}
    assert not any(leaks.values()), f"outputs that may carry a key or secret: {leaks}"


def test_list_keys_is_used_only_for_the_event_handler() -> None:
    users = [path.name for path in tools.bicep_files() if re.search(r"\blist\w*\(", path.read_text(encoding="utf-8"))]
    assert users == [tools.HUB_BICEP.name]


LEAKY = """
@description('Secret.')
@secure()
param s string
@description('Web PubSub.')
param name string
resource wps 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = {
  name: name
}
output fine string = wps.properties.hostName
output cs string = wps.listKeys().primaryConnectionString
output echoed string = s
output WPS_KEY string = 'x'
"""


def test_the_leak_check_catches_leaks() -> None:
    tree = tools.parse_bicep({"leaky": LEAKY})["leaky"]["tree"]
    assert sorted(tools.leaky_outputs(tree)) == ["WPS_KEY", "cs", "echoed"]


# --- descriptions ----------------------------------------------------------------------------


def test_every_parameter_has_a_description(trees: Trees) -> None:
    missing = {path.name: tools.undocumented_parameters(tree) for path, tree in trees.items()}
    assert not any(missing.values()), f"parameters without @description: {missing}"


def test_the_description_check_catches_a_missing_one() -> None:
    text = "@description('Documented.')\nparam a string\nparam b string\n@description('')\nparam c string\n"
    tree = tools.parse_bicep({"t": text})["t"]["tree"]
    assert tools.undocumented_parameters(tree) == ["b", "c"]


@pytest.mark.parametrize("name", ["main.bicep", "modules/socketio-hub.bicep"])
def test_target_scope_is_the_resource_group(name: str, trees: Trees) -> None:
    assert trees[tools.INFRA / name]["globals"]["scope"]["value"] == "resourceGroup"


def test_the_app_setting_names_are_the_ones_the_code_declares(trees: Trees) -> None:
    """Names read from the code itself: azure_adapter/service_tokens.py and shared/settings.py."""
    settings = app_settings(trees)
    connection = tools.module_constant(tools.REPO / "azure_adapter" / "service_tokens.py", "CONNECTION")
    assert {f"{connection}__endpoint", f"{connection}__credential"} <= set(settings)
    assert env_name("secret") in settings
    assert env_name("allowed_origins") in settings
    assert settings[env_name("hub")] == "hubName"
