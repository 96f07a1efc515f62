"""moto's SQS server, with its queues and messages kept in a file so that they survive a crash.

moto keeps everything in memory: kill it and every queue and message is gone, which real SQS
never does. `local-stack up --data-dir DIR` runs moto through this script instead of
`moto_server`, so that a restarted emulator has what the platform had sent it (the fault suite
kills it with SIGKILL under load and expects nothing accepted to be lost).

How: after every request that may change state, and before its response leaves, the SQS
backends' queues (with their messages, receive counts and in-flight state) are pickled to a
temporary file that then replaces the state file. A client that got an answer therefore finds
its effect after a restart. No fsync: a killed process loses nothing that reached the page
cache, and a lost machine is not what this emulates.

Usage: python moto_durable.py -H HOST -p PORT --state FILE
"""

import argparse
import copyreg
import os
import pickle
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.sqs.models import sqs_backends

# Locks cannot be pickled; a restored queue needs fresh ones, not the old ones' state (no thread
# of the old process survives it).
copyreg.pickle(type(threading.Lock()), lambda _lock: (threading.Lock, ()))
copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))
copyreg.pickle(threading.Condition, lambda _condition: (threading.Condition, ()))

# Actions that only read: no snapshot after them. Everything else (ReceiveMessage included: it
# counts receives, which decide the redrive to a DLQ) is saved.
READ_ONLY = {
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
}
# moto's threads mutate the queues while another pickles them; a retry sees a settled state.
SNAPSHOT_ATTEMPTS = 20


def queues_by_backend():
    return {
        (account_id, region): backend.queues
        for account_id, regions in list(sqs_backends.items())
        for region, backend in list(regions.items())
    }


def restore(path):
    try:
        with open(path, "rb") as file:
            state = pickle.load(file)
    except FileNotFoundError:
        return 0
    for (account_id, region), queues in state.items():
        sqs_backends[account_id][region].queues = queues
    return sum(len(queues) for queues in state.values())


class Durable:
    """WSGI middleware: saves the queues after each request that may have changed them."""

    def __init__(self, app, path):
        self.app = app
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        action = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        result = self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST" or action in READ_ONLY:
            return result
        # The body is built before the snapshot, so the snapshot includes this request's effect.
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.save()
        return [body]

    def save(self):
        with self.lock:
            for attempt in range(SNAPSHOT_ATTEMPTS):
                try:
                    data = pickle.dumps(queues_by_backend(), protocol=pickle.HIGHEST_PROTOCOL)
                    break
                except RuntimeError:
                    if attempt + 1 == SNAPSHOT_ATTEMPTS:
                        raise
            temporary = f"{self.path}.{os.getpid()}.tmp"
            with open(temporary, "wb") as file:
                file.write(data)
            os.replace(temporary, self.path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--state", required=True, help="the file that holds the queues")
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    restored = restore(args.state)
    print(f"moto_durable: {restored} queues restored from {args.state}", flush=True)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        Durable(app, args.state),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
