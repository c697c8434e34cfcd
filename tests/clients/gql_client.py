"""An independent GraphQL client (Python `gql`) doing what a specialist's
tool does: subscribe to task events over WebSocket, then claim and complete
a task over HTTP. Exits non-zero on any mismatch."""

import asyncio
import os
import sys

from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport
from gql.transport.websockets import WebsocketsTransport

URL = os.environ["SMMFLOW_URL"]
TOKEN = os.environ["SMMFLOW_TOKEN"]
TASK = os.environ["SMMFLOW_TASK"]

http = Client(
    transport=RequestsHTTPTransport(url=f"{URL}/graphql", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30),
    fetch_schema_from_transport=True,
)


async def listen(seen, ready):
    ws = WebsocketsTransport(
        url=URL.replace("http://", "ws://") + "/graphql/ws",
        init_payload={"authorization": f"Bearer {TOKEN}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=ws) as session:
        sub = gql("subscription { taskEvents { kind task { id status } } }")
        agen = session.subscribe(sub)
        ready.set()
        async for result in agen:
            event = result["taskEvents"]
            seen.append((event["kind"], event["task"]["status"]))
            if event["kind"] == "task.completed":
                return


async def main():
    seen = []
    ready = asyncio.Event()
    listener = asyncio.create_task(listen(seen, ready))
    await asyncio.wait_for(ready.wait(), 10)
    await asyncio.sleep(0.5)
    mine = http.execute(gql("query { tasks(filter: {mine: true, status: [OPEN]}) { totalCount nodes { id title form } } }"))
    ids = [t["id"] for t in mine["tasks"]["nodes"]]
    assert TASK in ids, f"the task is in my inbox: {ids}"
    claimed = http.execute(
        gql("mutation($t: ID!) { claimTask(input: {taskId: $t}) { task { status assignee { login } } userErrors { message } } }"),
        variable_values={"t": TASK},
    )
    assert claimed["claimTask"]["task"]["status"] == "CLAIMED", claimed
    done = http.execute(
        gql("mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { task { status output } userErrors { field message } } }"),
        variable_values={"t": TASK, "o": {"text": "Written from Python"}},
    )
    assert done["completeTask"]["userErrors"] == [], done
    assert done["completeTask"]["task"]["status"] == "COMPLETED", done
    await asyncio.wait_for(listener, 15)
    kinds = [k for k, _ in seen]
    assert kinds[:2] == ["task.claimed", "task.completed"], seen
    print("gql client: claimed and completed over HTTP; events over WebSocket:", kinds)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001 - report any failure as an exit code
        print(f"gql client failed: {e!r}", file=sys.stderr)
        sys.exit(1)
