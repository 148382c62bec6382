"""A minimal CRI client (Debian ships no crictl): pulls through containerd's CRI plugin as the kubelet does."""

import importlib
import subprocess
import sys
from pathlib import Path

import grpc

PROTO = Path(__file__).with_name("cri_min.proto")


def _generated(out_dir: Path):
    """Compile the proto once into out_dir (generated code is not committed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (out_dir / "cri_min_pb2_grpc.py").exists():
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO.parent}", f"--python_out={out_dir}",
                        f"--grpc_python_out={out_dir}", PROTO.name], check=True)
    if str(out_dir) not in sys.path:
        sys.path.insert(0, str(out_dir))
    return importlib.import_module("cri_min_pb2"), importlib.import_module("cri_min_pb2_grpc")


class CriClient:
    def __init__(self, socket: Path, build_dir: Path):
        self.pb, self.rpc = _generated(build_dir)
        self.channel = grpc.insecure_channel(f"unix://{socket}")

    def version(self, timeout: float = 5) -> str:
        stub = self.rpc.RuntimeServiceStub(self.channel)
        return stub.Version(self.pb.VersionRequest(version="v1"), timeout=timeout).runtime_version

    def pull(self, image: str, timeout: float = 30, auth: tuple[str, str] | None = None) -> str:
        """The image ref on success; raises grpc.RpcError with containerd's message on failure.
        `auth` is (username, password) as the kubelet passes it from an imagePullSecret."""
        stub = self.rpc.ImageServiceStub(self.channel)
        request = self.pb.PullImageRequest(image=self.pb.ImageSpec(image=image))
        if auth:
            request.auth.username, request.auth.password = auth
        return stub.PullImage(request, timeout=timeout).image_ref

    def remove(self, image: str) -> None:
        self.rpc.ImageServiceStub(self.channel).RemoveImage(self.pb.RemoveImageRequest(image=self.pb.ImageSpec(image=image)), timeout=10)

    def close(self) -> None:
        self.channel.close()
