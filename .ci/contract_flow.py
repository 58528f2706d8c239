"""An agent's day through the Python client generated from /openapi.json.

Run by .ci/api-contract.sh with the generated package on PYTHONPATH:

    contract_flow.py flow BASE_URL
        An operator registers an agent, the agent logs in, records an action
        and an LLM run, and the operator finds both in the operation log and
        the run log. Exits non-zero if any step answers something else than
        the document promises.

    contract_flow.py agent-token BASE_URL
        Registers an agent holding every permission, logs it in and prints
        its access token (for the Schemathesis run as an agent).

The operator's key is read from AGENTLEDGER_ADMIN_KEY.

Only the generated functions and models are used: if the document is wrong,
the client is wrong, and this fails.
"""

import os
import sys

from agentledger_client import AuthenticatedClient, Client
from agentledger_client.api.agents import authenticate, register_agent
from agentledger_client.api.read_models import operation_list, run_list
from agentledger_client.api.reports import record_action, record_run
from agentledger_client.models import (
    ActionReport,
    ActionStatus,
    AgentSecret,
    Credentials,
    Issued,
    OperationPage,
    Recorded,
    RegisterAgent,
    RunPage,
    RunReport,
    RunStatus,
)

# Every permission an agent can hold (`agentledger_domain::agent::SCOPES`).
ALL_PERMISSIONS = [
    "actions:write",
    "runs:write",
    "tasks:claim",
    "tasks:create",
    "commands:poll",
    "batch",
    "webhooks:manage",
    "cache:write",
]


class FlowError(Exception):
    pass


def expect(answer, kind, step):
    """The parsed answer of `step`, which must be a `kind` (a problem otherwise)."""
    if not isinstance(answer, kind):
        raise FlowError(f"{step}: expected {kind.__name__}, got {answer!r}")
    return answer


def clients(base_url, admin_key):
    public = Client(base_url=base_url, raise_on_unexpected_status=True)
    operator = AuthenticatedClient(
        base_url=base_url, token=admin_key, raise_on_unexpected_status=True
    )
    return public, operator


def logged_in_agent(base_url, public, operator, name, permissions):
    registered = expect(
        register_agent.sync(
            client=operator,
            body=RegisterAgent(
                name=name,
                kind="ci",
                permissions=permissions,
                rate_limit_per_minute=100_000,
            ),
        ),
        AgentSecret,
        "register the agent",
    )
    issued = expect(
        authenticate.sync(
            client=public,
            body=Credentials(agent_id=registered.agent_id, secret=registered.secret),
        ),
        Issued,
        "log the agent in",
    )
    agent = AuthenticatedClient(
        base_url=base_url,
        token=issued.access_token,
        raise_on_unexpected_status=True,
    )
    return registered.agent_id, issued.access_token, agent


def flow(base_url, admin_key):
    public, operator = clients(base_url, admin_key)
    agent_id, _, agent = logged_in_agent(
        base_url, public, operator, "contract-flow", ["actions:write", "runs:write"]
    )
    action = expect(
        record_action.sync(
            client=agent,
            body=ActionReport(
                action="moderate",
                resource_type="post",
                resource_id="post-1",
                status=ActionStatus.SUCCESS,
                execution_time_ms=12,
                confidence=0.9,
            ),
        ),
        Recorded,
        "record an action",
    )
    run = expect(
        record_run.sync(
            client=agent,
            body=RunReport(
                app_type="moderation",
                trigger_type="api",
                model="example-model",
                prompt_tokens=120,
                completion_tokens=30,
                latency_ms=850,
                status=RunStatus.SUCCESS,
                cost_usd=0.0042,
            ),
        ),
        Recorded,
        "record an LLM run",
    )
    operations = expect(
        operation_list.sync(
            client=operator, agent_id=agent_id, min_position=action.position
        ),
        OperationPage,
        "read the operation log",
    )
    if [(o.agent_id, o.action, o.resource_id) for o in operations.items] != [
        (agent_id, "moderate", "post-1")
    ]:
        raise FlowError(f"the operation log shows {operations.items!r}")
    runs = expect(
        run_list.sync(client=operator, min_position=run.position),
        RunPage,
        "read the run log",
    )
    mine = [r for r in runs.items if r.agent_id == agent_id]
    if [(r.model, r.prompt_tokens, r.cost_usd) for r in mine] != [
        ("example-model", 120, 0.0042)
    ]:
        raise FlowError(f"the run log shows {runs.items!r}")
    print(
        f"agent flow: agent {agent_id} recorded an action (position {action.position}) "
        f"and a run (position {run.position}); the operator reads both"
    )


def agent_token(base_url, admin_key):
    public, operator = clients(base_url, admin_key)
    _, token, _ = logged_in_agent(
        base_url, public, operator, "contract-fuzz", ALL_PERMISSIONS
    )
    print(token)


def main(argv):
    admin_key = os.environ.get("AGENTLEDGER_ADMIN_KEY")
    if len(argv) != 3 or argv[1] not in ("flow", "agent-token") or not admin_key:
        print(__doc__, file=sys.stderr)
        return 2
    _, command, base_url = argv
    try:
        (flow if command == "flow" else agent_token)(base_url, admin_key)
    except FlowError as e:
        print(f"agent flow failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
