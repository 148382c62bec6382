"""A stand-in for the Go program pulumi-language-python, which the Go module proxy does not serve here.

`pulumi preview`/`up` run through the Automation API with an inline program and need no language plugin;
`pulumi import --file` is a CLI command of its own and loads the project's language plugin. This one is the
Python SDK's own LanguageRuntime server (the one the Automation API serves for inline programs): the CLI
starts it with the engine address as its last argument and reads the gRPC port from its first line of
stdout; Run executes the project's __main__.py in this interpreter (the project's venv).
"""

import os
import runpy
import sys
from concurrent import futures

import grpc
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2_grpc


class ProjectLanguageServer(LanguageServer):
    def Run(self, request, context):
        folder = request.info.program_directory or request.pwd or os.getcwd()
        entry = request.info.entry_point or request.program or "."
        main = os.path.join(folder, entry) if entry not in ("", ".") else folder
        if os.path.isdir(main):
            main = os.path.join(main, "__main__.py")
        os.chdir(folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        self.program = lambda: runpy.run_path(main, run_name="__main__")
        return super().Run(request, context)


def serve() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(ProjectLanguageServer(lambda: None), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:   # the CLI interrupts its plugins when it is done
        server.stop(0)


if __name__ == "__main__":
    serve()
