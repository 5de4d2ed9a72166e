"""The container tier: docker-compose.yml brought up for real with podman and podman-compose.

Run it with ``pytest -m containers`` (the default run leaves it out). It needs podman, runc,
debootstrap and podman-compose (``.ci/run`` installs them) and runs as root. With no registry,
the base images are made with debootstrap (see docs/containers.md) and kept between runs; the
project is installed in the image from wheels built on the host.

The compose file runs as written except for its published host ports, which are moved to a free
block of the project's test ports (below the ephemeral range), so that a run never collides with
another network on this machine. Everything the tier creates (containers, volumes, network,
images of the project) is removed at the end, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ipnsim.launcher import find_free_port_block
from tests.e2e.conftest import ipnsim_cli

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DEPLOY_DIR = REPO / "deploy" / "compose"

BASE_IMAGE = "localhost/ipnsim-base:bookworm"
POSTGRES_BASE_IMAGE = "localhost/ipnsim-postgres-base:bookworm"
POSTGRES_IMAGE = "localhost/ipnsim-postgres:bookworm"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
POSTGRES_PACKAGES = "postgresql,ca-certificates"
NGINX_IMAGE = "localhost/ipnsim-nginx:bookworm"
"""The load balancer's image: Debian's nginx, run as it is (the command names the config)."""
NGINX_PACKAGES = "nginx,ca-certificates"
CONTAINERS_CONF = """\
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""
HEALTHY_TIMEOUT = 600.0
SEED_TIMEOUT = 900.0


def run(
    argv: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def podman_env(conf: Path) -> dict[str, str]:
    return os.environ | {"CONTAINERS_CONF": str(conf)}


def ensure_base_image(image: str, packages: str, env: dict[str, str]) -> None:
    """Make a Debian 12 base image with debootstrap, unless this machine already has it."""
    if run(["podman", "image", "exists", image], env=env, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory(prefix="ipnsim-rootfs-") as directory:
        rootfs = Path(directory) / "rootfs"
        run(
            ["debootstrap", "--variant=minbase", f"--include={packages}", "bookworm", str(rootfs)],
            timeout=1800,
        )
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        imported = subprocess.run(
            ["podman", "import", "-", image],
            stdin=tar.stdout,
            env=env,
            capture_output=True,
            timeout=900,
            check=False,
        )
        tar.stdout.close()
        assert tar.wait() == 0, "tar of the debootstrap root failed"
        assert imported.returncode == 0, imported.stderr.decode(errors="replace")


def build_wheels() -> None:
    """The project and every dependency as wheels in dist/wheels (the image installs only these)."""
    wheels = REPO / "dist" / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    had_build = (REPO / "build").exists()
    try:
        run([sys.executable, "-m", "pip", "wheel", "-q", ".", "-w", str(wheels)], cwd=REPO)
    finally:
        if not had_build:
            shutil.rmtree(REPO / "build", ignore_errors=True)
        for info in REPO.glob("*.egg-info"):
            shutil.rmtree(info, ignore_errors=True)


def published(ports: list[str], host_port: int) -> list[str]:
    """The service's single 127.0.0.1 publication moved to ``host_port``."""
    (entry,) = ports
    host, _, container = str(entry).split(":")
    assert host == "127.0.0.1"
    return [f"127.0.0.1:{host_port}:{container}"]


def compose_for_test(directory: Path, port_of: dict[str, int]) -> Path:
    """docker-compose.yml with host ports moved and relative paths made absolute."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    for name, service in data["services"].items():
        if "build" in service:
            service["build"]["context"] = str(REPO)
        if "ports" in service:
            service["ports"] = published(service["ports"], port_of[name])
        volumes = []
        for volume in service.get("volumes", []):
            source, rest = str(volume).split(":", 1)
            if source.startswith("."):
                source = str((REPO / source).resolve())
            volumes.append(f"{source}:{rest}")
        if volumes:
            service["volumes"] = volumes
    path = directory / "docker-compose.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class ComposeNetwork:
    """The compose topology running in podman, reachable through its published ports."""

    project: str
    compose_file: Path
    data_dir: Path
    port_of: dict[str, int]
    env: dict[str, str]

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> str:
        done = run(
            ["podman-compose", "-p", self.project, "-f", str(self.compose_file), *args],
            env=self.env,
            timeout=timeout,
            check=check,
        )
        return done.stdout + done.stderr

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["podman", *args], env=self.env, check=check, timeout=300)

    def ipnsim(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return ipnsim_cli(self.data_dir, *args, timeout=timeout, columns=160)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port_of[service]}"

    def logs(self) -> str:
        return self.compose("logs", check=False)[-20000:]


def host_network_file(directory: Path, port_of: dict[str, int]) -> Path:
    """deploy/compose/host/network.json with the services at the moved ports."""
    network = json.loads((DEPLOY_DIR / "host" / "network.json").read_text(encoding="utf-8"))
    for info in network["services"]:
        port = port_of[info["name"]]
        info["url"] = f"http://127.0.0.1:{port}"
        info["port"] = port
    if "hub" in network and isinstance(network["hub"], dict):
        network["hub"]["url"] = f"http://127.0.0.1:{port_of['hub']}"
        network["hub"]["port"] = port_of["hub"]
    data_dir = directory / "host"
    data_dir.mkdir()
    (data_dir / "network.json").write_text(json.dumps(network, ensure_ascii=False), "utf-8")
    return data_dir


def wait_until_healthy(network: ComposeNetwork, services: list[str]) -> None:
    """Every service with a healthcheck is healthy.

    Without systemd nothing runs podman's healthchecks on a timer, so they are run here, with
    the commands of docker-compose.yml (``podman healthcheck run``).
    """
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    waiting = list(services)
    while waiting:
        for service in list(waiting):
            done = network.podman("healthcheck", "run", network.container(service), check=False)
            if done.returncode == 0:
                waiting.remove(service)
        if not waiting:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"not healthy after {HEALTHY_TIMEOUT:g}s: {waiting}\n{network.logs()}")
        time.sleep(2)


def wait_for_seed(network: ComposeNetwork) -> None:
    deadline = time.monotonic() + SEED_TIMEOUT
    while True:
        state = network.podman(
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            network.container("seed"),
        ).stdout.split()
        if state and state[0] == "exited":
            assert state[1] == "0", f"the seed job failed:\n{network.logs()}"
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the seed job did not finish in {SEED_TIMEOUT:g}s:\n{network.logs()}")
        time.sleep(2)


@pytest.fixture(scope="session")
def compose_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeNetwork]:
    missing = [
        tool for tool in ("podman", "podman-compose", "debootstrap") if not shutil.which(tool)
    ]
    if missing:
        pytest.fail(f"the container tier needs {', '.join(missing)} (see docs/containers.md)")
    directory = tmp_path_factory.mktemp("compose")
    conf = directory / "containers.conf"
    conf.write_text(CONTAINERS_CONF, encoding="utf-8")
    env = podman_env(conf)
    started = time.monotonic()
    ensure_base_image(BASE_IMAGE, BASE_PACKAGES, env)
    ensure_base_image(POSTGRES_BASE_IMAGE, POSTGRES_PACKAGES, env)
    ensure_base_image(NGINX_IMAGE, NGINX_PACKAGES, env)
    build_wheels()

    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    with_ports = [name for name, service in data["services"].items() if "ports" in service]
    first = find_free_port_block(len(with_ports))
    port_of = {name: first + offset for offset, name in enumerate(with_ports)}
    project = f"ipnsimct{uuid.uuid4().hex[:8]}"
    image = f"localhost/{project}:latest"
    postgres_image = f"localhost/{project}-postgres:latest"
    env |= {
        "IPNSIM_IMAGE_BASE": BASE_IMAGE,
        "IPNSIM_POSTGRES_IMAGE": postgres_image,
        "IPNSIM_NGINX_IMAGE": NGINX_IMAGE,
    }
    compose_file = compose_for_test(directory, port_of)
    # One image for every service: build it once, under a name of this run.
    text = compose_file.read_text(encoding="utf-8")
    compose_file.write_text(text.replace("localhost/ipnsim:latest", image), encoding="utf-8")
    network = ComposeNetwork(
        project, compose_file, host_network_file(directory, port_of), port_of, env
    )
    images_before = set(network.podman("images", "-q", "--all", "--no-trunc").stdout.split())
    try:
        run(
            ["podman", "build", "--build-arg", f"BASE={BASE_IMAGE}", "-t", image, str(REPO)],
            env=env,
        )
        run(
            [
                "podman",
                "build",
                "--build-arg",
                f"BASE={POSTGRES_BASE_IMAGE}",
                "-t",
                postgres_image,
                str(REPO / "deploy" / "postgres"),
            ],
            env=env,
        )
        network.compose("up", "-d")
        serving = [name for name, service in data["services"].items() if "healthcheck" in service]
        wait_until_healthy(network, serving)
        wait_for_seed(network)
        print(f"\ncompose topology up in {time.monotonic() - started:.0f}s", file=sys.stderr)
        yield network
    finally:
        network.compose("down", "-v", "-t", "5", check=False, timeout=600)
        for name in (image, postgres_image):
            network.podman("rmi", "-f", name, check=False)
        # The build stages of this run's images (the base images are kept for the next run).
        images_after = network.podman("images", "-q", "--all", "--no-trunc").stdout.split()
        for leftover in set(images_after) - images_before:
            network.podman("rmi", "-f", leftover, check=False)
        shutil.rmtree(REPO / "dist" / "wheels", ignore_errors=True)
        with contextlib.suppress(OSError):
            (REPO / "dist").rmdir()  # only if the run left it empty
        leftovers = network.podman(
            "ps", "-a", "--filter", f"label=io.podman.compose.project={project}", "-q"
        ).stdout.split()
        for container in leftovers:
            network.podman("rm", "-f", container, check=False)
        for volume in network.podman("volume", "ls", "-q").stdout.split():
            if re.fullmatch(rf"{project}_[\w-]+", volume):
                network.podman("volume", "rm", "-f", volume, check=False)
