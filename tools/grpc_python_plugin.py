"""Run grpcio-tools' grpc_python generator as a protoc plugin (stdin -> stdout).

buf speaks the plugin protocol; grpcio-tools only offers a protoc front end.
This bridges them through a temporary descriptor set.
"""

import pathlib
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        fds = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
        (root / "in.pb").write_bytes(fds.SerializeToString())
        out = root / "out"
        out.mkdir()
        args = ["protoc", f"--descriptor_set_in={root / 'in.pb'}", f"--grpc_python_out={out}"]
        if request.parameter:
            args[-1] = f"--grpc_python_out={request.parameter}:{out}"
        code = protoc.main(args + list(request.file_to_generate))
        if code != 0:
            response.error = f"grpc_python generator failed with exit code {code}"
        else:
            for path in sorted(out.rglob("*.py")):
                f = response.file.add()
                f.name = str(path.relative_to(out))
                f.content = path.read_text()
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
