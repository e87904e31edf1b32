"""`make rehearse`: the README's release flow end to end on this machine, nothing real touched.

Starts on 127.0.0.1 a first-party registry, three mirror registries (Debian's `docker-registry`)
and `moto_server`; seeds two Teleport-like releases (17.0.0, 17.0.1: multi-arch image indexes
with cosign ``.sig`` tags, AMIs carrying the first-party tags in moto's us-west-2); writes a
project with a ``local`` stack (a local spec, every AWS client and pulumi-aws provider pointed at
moto through ``MIRRORS_AWS_ENDPOINT_URL``); then runs what a release engineer runs:
`mirrors validate`, `mirrors release add` (both releases), `mirrors plan` (table, markdown,
outputs) and, with the Pulumi CLI on PATH, `pulumi login` to a local file backend,
`pulumi up -s local`, `mirrors verify`, a yank of 17.0.1, `pulumi up`, `mirrors verify` again.

Without the Pulumi CLI it mirrors the images by hand (`mirrors copy`, as in an emergency) and
proves them with `mirrors verify --outputs` on the plan's outputs, then says what it could not
run and how to install the CLI. Every process it started is stopped on the way out (success,
failure, Ctrl-C or SIGTERM), and it says so.

Run: ``python -m artifact_mirrors.rehearse [--workdir DIR] [--keep]``. Exit 0 when every step
ran or was skipped for want of the Pulumi CLI, 1 when a step failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import boto3
import httpx

REPO = Path(__file__).resolve().parent.parent
STACK = "local"
RELEASES = ("17.0.0", "17.0.1")
YANKED = "17.0.1"
IMAGES = ("teleport-distroless", "teleport-ent-distroless", "tbot-distroless")
PLATFORMS = ("linux/amd64", "linux/arm64")
MIRRORS = ("hub", "quay", "gallery")  # stand-ins for Docker Hub, quay.io, ECR Public
EDITIONS = (("oss", "x86_64"), ("oss", "arm64"))
REGIONS = ("us-west-2", "us-east-1")
ACCOUNT = "123456789012"  # moto's default account: the vendor's first-party AMI account here
GRANTEE = "111122223333"  # a customer account the AMIs are shared with
# moto's bundled base images (an AMI needs an instance to be made from).
BASE_AMI = {"x86_64": "ami-04681a1dbd79675a5", "arm64": "ami-0e9271c829888680e"}
INSTALL_PULUMI = "curl -fsSL https://get.pulumi.com | sh (https://www.pulumi.com/docs/install/)"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class StepFailed(Exception):
    """A step exited non-zero: its command and the end of its output."""


def say(text: str) -> None:
    print(text, flush=True)


# ---- processes -----------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


@dataclass
class Services:
    """Everything started, stopped in reverse order however the run ends."""

    started: list[Service] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], url: str, log: Path, probe: str) -> Service:
        with log.open("wb") as out:
            # Own session: a Ctrl-C reaches us, and we stop the servers in order ourselves.
            proc = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        service = Service(name, proc, url, log)
        self.started.append(service)
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-800:]
                raise StepFailed(f"{name} exited with {proc.returncode}: {tail}")
            try:
                if httpx.get(url + probe, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise StepFailed(f"{name} did not answer on {url} within 60 s (log: {log})")
            time.sleep(0.05)
        say(f"started {name} on {url} (pid {proc.pid})")
        return service

    def stop_all(self) -> None:
        for service in reversed(self.started):
            if service.proc.poll() is None:
                service.proc.terminate()
        for service in reversed(self.started):
            try:
                service.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait()
        if self.started:
            pids = ", ".join(str(s.proc.pid) for s in self.started)
            say(f"stopped {len(self.started)} processes it started (pids {pids})")
        self.started.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(binary: str, how: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise StepFailed(f"{binary} not found on PATH: {how}")
    return path


def start_registry(services: Services, name: str, root: Path) -> str:
    binary = need("docker-registry", "apt-get install docker-registry (scripts/system-deps)")
    root.mkdir(parents=True)
    port = free_port()
    config = root / "config.yml"
    # Our own config: the package default listens on every interface.
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n"
        f"    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: rehearsal-only\n"
    )
    services.start(
        name, [binary, "serve", str(config)], f"http://127.0.0.1:{port}", root / "log", "/v2/"
    )
    return f"127.0.0.1:{port}"


def start_moto(services: Services, root: Path) -> str:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        found = shutil.which("moto_server")
        if found is None:
            raise StepFailed(
                "moto_server not found: pip install 'moto[server]' (requirements.lock)"
            )
        binary = Path(found)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    services.start(
        "moto_server",
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        url,
        root / "moto.log",
        "/moto-api/",
    )
    return url


# ---- seeding the first-party sources -------------------------------------------------------------


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


class Pusher:
    """Just enough of the distribution API to build a release: blob uploads and manifest PUTs."""

    def __init__(self, host: str) -> None:
        self.http = httpx.Client(base_url=f"http://{host}", timeout=30)

    def blob(self, repo: str, data: bytes, media_type: str) -> dict[str, Any]:
        digest = _sha(data)
        start = self.http.post(f"/v2/{repo}/blobs/uploads/")
        start.raise_for_status()
        url = httpx.URL(start.headers["Location"]).copy_merge_params({"digest": digest})
        self.http.put(
            str(url), content=data, headers={"Content-Type": "application/octet-stream"}
        ).raise_for_status()
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def manifest(self, repo: str, ref: str, doc: dict[str, Any]) -> dict[str, Any]:
        raw = _dumps(doc)
        self.http.put(
            f"/v2/{repo}/manifests/{ref}", content=raw, headers={"Content-Type": doc["mediaType"]}
        ).raise_for_status()
        return {"mediaType": doc["mediaType"], "digest": _sha(raw), "size": len(raw)}

    def close(self) -> None:
        self.http.close()


def seed_release(p: Pusher, repo: str, version: str) -> str:
    """A multi-arch index tagged ``version``, signed cosign-style (``sha256-<hex>.sig``)."""
    children = []
    for plat in PLATFORMS:
        os_, arch = plat.split("/")
        layer = p.blob(repo, f"{repo} {version} {plat}\n".encode() * 64, OCI_LAYER)
        cfg = p.blob(
            repo,
            _dumps({"os": os_, "architecture": arch, "rootfs": {"type": "layers"}}),
            OCI_CONFIG,
        )
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [layer]}
        desc = p.manifest(repo, _sha(_dumps(doc)), doc)
        children.append(desc | {"platform": {"os": os_, "architecture": arch}})
    index = p.manifest(
        repo, version, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    )
    payload = _dumps(
        {
            "critical": {
                "identity": {"docker-reference": repo},
                "image": {"docker-manifest-digest": index["digest"]},
                "type": "cosign container image signature",
            }
        }
    )
    sig_layer = p.blob(repo, payload, "application/vnd.dev.cosign.simplesigning.v1+json")
    sig_cfg = p.blob(repo, _dumps({"rootfs": {"type": "layers"}}), OCI_CONFIG)
    p.manifest(
        repo,
        index["digest"].replace(":", "-") + ".sig",
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": sig_cfg, "layers": [sig_layer]},
    )
    return str(index["digest"])


def seed_amis(moto: str, version: str) -> list[str]:
    """The vendor's AMIs of ``version`` in us-west-2, found by their tags as in production."""
    ec2 = boto3.client(
        "ec2",
        region_name="us-west-2",
        endpoint_url=moto,
        aws_access_key_id="AKIAREHEARSAL0000001",
        aws_secret_access_key="rehearsal-secret",
    )
    ids = []
    for edition, arch in EDITIONS:
        instance = ec2.run_instances(ImageId=BASE_AMI[arch], MinCount=1, MaxCount=1)
        tags = {
            "Name": f"teleport-{edition}-{version}-{arch}",
            "TeleportVersion": version,
            "TeleportEdition": edition,
            "Architecture": arch,
            "TeleportFipsEnabled": "false",
        }
        image = ec2.create_image(
            InstanceId=instance["Instances"][0]["InstanceId"],
            Name=f"teleport-{edition}-{version}-{arch}-20260101-000000UTC",
            TagSpecifications=[
                {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ],
        )
        ids.append(image["ImageId"])
    return ids


# ---- the local project ---------------------------------------------------------------------------


def local_spec(source: str, mirrors: dict[str, str]) -> str:
    registries = "\n".join(
        f"  - {{name: {name}, kind: oci, host: {host}, namespace: gravitational, insecure: true}}"
        for name, host in mirrors.items()
    )
    images = "\n".join(
        f"  - {{name: {image}, source: {source}/gravitational/{image}, "
        f"platforms: [{', '.join(PLATFORMS)}]}}"
        for image in IMAGES
    )
    editions = "\n".join(f"    - {{edition: {e}, arch: {a}}}" for e, a in EDITIONS)
    return f"""\
# The local rehearsal's spec (written by `make rehearse`): every destination on this machine.
version: 1
labels:
  image_description: templates/image-description.j2
  image_full_description: templates/image-full-description.md.j2
  ami_description: templates/ami-description.j2
defaults:
  image:
    registries: [{", ".join(mirrors)}]
    signatures: true
    floating_tags:
      stable: ["{{major}}", "{{major}}.{{minor}}", latest]
registries:
{registries}
images:
{images}
amis:
  source: {{account: "{ACCOUNT}", region: us-west-2}}
  tags:
    version: TeleportVersion
    edition: TeleportEdition
    arch: Architecture
    fips: TeleportFipsEnabled
  editions:
{editions}
  partitions:
    aws:
      profile: local
      account: "{ACCOUNT}"
      regions: [{", ".join(REGIONS)}]
      # Shared with one account, not public: moto has no image block public access API, which
      # the public-sharing preflight asks.
      launch_permissions: {{accounts: ["{GRANTEE}"]}}
"""


def write_project(root: Path, source: str, mirrors: dict[str, str]) -> Path:
    project = root / "project"
    (project / "mirrors/releases").mkdir(parents=True)
    (project / "stacks").mkdir()
    shutil.copytree(REPO / "mirrors/templates", project / "mirrors/templates")
    (project / "mirrors/destinations.yaml").write_text(local_spec(source, mirrors))
    venv = sys.prefix if sys.prefix != sys.base_prefix else None
    options = f"\n  options:\n    toolchain: pip\n    virtualenv: {venv}" if venv else ""
    (project / "Pulumi.yaml").write_text(
        "name: artifact-mirrors\n"
        "description: the local rehearsal (make rehearse)\n"
        f"runtime:\n  name: python{options}\n"
        "stackConfigDir: stacks\n"
    )
    # The program is the repository's; this project only brings its own spec and stack.
    (project / "__main__.py").write_text(
        "import sys\nfrom pathlib import Path\n\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from components.program import run  # noqa: E402\n\n"
        "run(Path(__file__).resolve().parent)\n"
    )
    (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(
        "# The local rehearsal: spec and manifests of this project, AWS at moto_server.\n"
        "config:\n"
        "  artifact-mirrors:spec: mirrors/destinations.yaml\n"
        "  artifact-mirrors:releasesDir: mirrors/releases\n"
        "  aws:region: us-west-2\n"
    )
    return project


def environment(root: Path, moto: str, source: str) -> dict[str, str]:
    creds = root / "aws-credentials"
    creds.write_text(
        "[local]\naws_access_key_id = AKIAREHEARSAL0000001\n"
        "aws_secret_access_key = rehearsal-secret\n"
    )
    (root / "aws-config").write_text("")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "MIRRORS_", "PULUMI_")) and k != "DOCKER_CONFIG"
    }
    env.update(
        {
            "AWS_SHARED_CREDENTIALS_FILE": str(creds),
            "AWS_CONFIG_FILE": str(root / "aws-config"),
            "MIRRORS_AWS_ENDPOINT_URL": moto,  # every boto3 client and aws.Provider (endpoints)
            "MIRRORS_INSECURE_REGISTRIES": source,  # the first-party stand-in is plain HTTP
            "DOCKER_CONFIG": str(root / "docker"),  # no credentials of the user's leak in
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
            ),
            "PULUMI_CONFIG_PASSPHRASE": "rehearsal",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "NO_COLOR": "1",
        }
    )
    return env


# ---- steps ---------------------------------------------------------------------------------------


@dataclass
class Runner:
    env: dict[str, str]
    cwd: Path
    log: Path

    def run(self, title: str, argv: Sequence[str], *, show: bool = False) -> str:
        shown = " ".join(_shown(a) for a in argv)
        say(f"==> {title}: {shown if len(shown) <= 150 else shown[:149] + '…'}")
        proc = subprocess.run(
            list(argv), cwd=self.cwd, env=self.env, capture_output=True, text=True, check=False
        )
        with self.log.open("a", encoding="utf-8") as fh:
            fh.write(f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}\n")
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise StepFailed(f"{title} exited with {proc.returncode}:\n{tail}")
        if show:
            sys.stdout.write(proc.stdout)
            sys.stdout.flush()
        return proc.stdout

    def mirrors(self, title: str, *args: str, show: bool = False) -> str:
        return self.run(title, [sys.executable, "-m", "artifact_mirrors", *args], show=show)


def _shown(arg: str) -> str:
    return arg if arg != sys.executable else "python"


def manual_copy(r: Runner, source: str, hosts: Sequence[str], outputs: dict[str, Any]) -> None:
    """What `pulumi up` would do to the registries, by hand: one `mirrors copy` per digest."""
    dests: dict[tuple[str, bool], list[str]] = {}
    image_of = {f"{host}/gravitational/{i}": i for host in hosts for i in IMAGES}
    for release in outputs["releases"].values():
        for ref, digest in release["images"].items():
            dests.setdefault((digest, False), []).append(ref)
    for ref, ft in outputs["floating_tags"].items():
        if ft["published"] == "true":
            dests.setdefault((ft["digest"], True), []).append(ref)
    for (digest, floating), refs in sorted(dests.items(), key=lambda kv: (kv[0][1], kv[1][0])):
        image = image_of[refs[0].rsplit(":", 1)[0]]
        args = ["copy", f"{source}/gravitational/{image}@{digest}", *refs]
        for host in hosts:
            args += ["--insecure", host]
        args += ["--insecure", source, *(["--floating"] if floating else [])]
        what = "floating tags" if floating else "release tags"
        r.mirrors(f"mirrors copy ({image} {what})", *args)


def yank(project: Path, version: str) -> None:
    manifest = project / "mirrors/releases" / f"{version}.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace("channel: stable\n", "channel: stable\nyanked: true\nreason: rehearsal\n", 1),
        encoding="utf-8",
    )


def rehearse(root: Path, services: Services) -> list[str]:
    """Every step; returns what could not run (for want of the Pulumi CLI)."""
    source = start_registry(services, "first-party registry", root / "registry-first-party")
    mirrors = {
        name: start_registry(services, f"mirror registry {name}", root / f"registry-{name}")
        for name in MIRRORS
    }
    moto = start_moto(services, root)

    say("==> seed the first-party sources")
    pusher = Pusher(source)
    try:
        for version in RELEASES:
            for image in IMAGES:
                digest = seed_release(pusher, f"gravitational/{image}", version)
                say(f"  {source}/gravitational/{image}:{version} = {digest} (+ .sig)")
    finally:
        pusher.close()
    for version in RELEASES:
        ids = seed_amis(moto, version)
        say(f"  AMIs of {version} in us-west-2 (account {ACCOUNT}): {', '.join(ids)}")

    project = write_project(root, source, mirrors)
    env = environment(root, moto, source)
    say(f"wrote the local project {project} (stack {STACK}: stacks/Pulumi.{STACK}.yaml)")
    r = Runner(env, project, root / "commands.log")

    r.mirrors("validate the local spec", "validate", "-C", str(project))
    for version in RELEASES:
        r.mirrors(f"pin {version}", "release", "add", version, "-C", str(project), show=True)
    r.mirrors("plan", "plan", "--stack", STACK, "-C", str(project), "-o", str(root / "plan.txt"))
    r.mirrors("plan for the pull request", "plan", "--stack", STACK, "-f", "markdown",
              "-o", str(root / "plan.md"), "-C", str(project))  # fmt: skip
    summary = (root / "plan.md").read_text(encoding="utf-8").splitlines()[2]
    say(f"  {summary}")
    outputs_file = root / "plan-outputs.json"
    r.mirrors("the outputs an update records", "plan", "--stack", STACK, "-f", "outputs",
              "-o", str(outputs_file), "-C", str(project))  # fmt: skip
    say(f"  wrote {root / 'plan.txt'}, {root / 'plan.md'}, {outputs_file}")

    pulumi = shutil.which("pulumi")
    if pulumi is None:
        say("==> no Pulumi CLI: mirror by hand, as in an emergency, and verify the plan's outputs")
        outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
        manual_copy(r, source, list(mirrors.values()), outputs)
        r.mirrors("verify the copy", "verify", "--stack", STACK, "--outputs", str(outputs_file),
                  "--images-only", "-C", str(project), show=True)  # fmt: skip
        return [
            "pulumi login (a local file backend)",
            f"pulumi up -s {STACK}",
            f"mirrors verify --stack {STACK} (AMIs included)",
            f"the yank of {YANKED}, pulumi up, mirrors verify",
        ]

    state = root / "pulumi-state"
    state.mkdir()
    r.run("log in to a local file backend", [pulumi, "login", f"file://{state}"])
    r.run("create the stack", [pulumi, "stack", "init", STACK, "--non-interactive"])
    r.run("promote", [pulumi, "up", "-s", STACK, "--yes", "--non-interactive", "-m",
                      f"mirror {', '.join(RELEASES)}"], show=True)  # fmt: skip
    r.mirrors("verify", "verify", "--stack", STACK, "-C", str(project), show=True)
    yank(project, YANKED)
    say(f"==> yanked {YANKED} in mirrors/releases/{YANKED}.yaml")
    r.run("unpublish", [pulumi, "up", "-s", STACK, "--yes", "--non-interactive", "-m",
                        f"yank {YANKED}"], show=True)  # fmt: skip
    r.mirrors("verify after the yank", "verify", "--stack", STACK, "-C", str(project), show=True)
    return []


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """SIGTERM (and SIGHUP) end the run like Ctrl-C does, so the cleanup runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m artifact_mirrors.rehearse", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--workdir", type=Path, help="where to put everything (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory afterwards")
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="mirrors-rehearsal-"))
    root.mkdir(parents=True, exist_ok=True)
    say(f"rehearsal in {root}")
    services = Services()
    code = 1
    with stopping_on_signals():
        try:
            skipped = rehearse(root, services)
            code = 0
        except StepFailed as exc:
            say(f"FAILED: {exc}")
        except KeyboardInterrupt:
            say("interrupted")
            code = 130
        finally:
            services.stop_all()
    if code == 0:
        if skipped:
            say("not run (the Pulumi CLI is not on PATH): " + "; ".join(skipped))
            say(f"install the Pulumi CLI to rehearse them too: {INSTALL_PULUMI}")
        say("rehearsal done")
    if not args.keep and args.workdir is None and code == 0:
        shutil.rmtree(root, ignore_errors=True)
    elif code != 0 or args.keep:
        say(f"kept {root} (commands.log has every command's output)")
    return code


if __name__ == "__main__":
    sys.exit(main())
