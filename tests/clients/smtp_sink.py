"""A real SMTP server for the tests (aiosmtpd): listens on 127.0.0.1:PORT and
appends every message it accepts to DIR/messages.jsonl as one JSON object
(envelope recipients, decoded To/Subject/Message-ID, plain and HTML bodies).
Recipients with "bounce" in their address are refused with 550.
Prints "ready" once listening; runs until killed.

    python smtp_sink.py PORT DIR
"""

import asyncio
import email
import email.policy
import json
import os
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # Addresses with "bounce" in them do not exist: a permanent refusal.
        if "bounce" in address:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # A slow server (SMTP_SINK_DELAY_MS) keeps senders busy mid-batch.
        delay = int(os.environ.get("SMTP_SINK_DELAY_MS", "0"))
        if delay:
            await asyncio.sleep(delay / 1000)
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "rcpt": list(envelope.rcpt_tos),
            "from": str(msg.get("From", "")),
            "to": str(msg.get("To", "")),
            "subject": str(msg.get("Subject", "")),
            "message_id": str(msg.get("Message-ID", "")),
            "auto_submitted": str(msg.get("Auto-Submitted", "")),
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else None,
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return "250 OK"


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Sink(os.path.join(folder, "messages.jsonl")), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
