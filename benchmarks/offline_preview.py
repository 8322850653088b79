"""Offline preview cost per stack versus its floor (not a test: prints figures).

For each stack a fresh worker process measures, in this order:
  1. importing the SDKs the stack's resources come from (pulumi, each pulumi_aws submodule, ...);
  2. the floor's registrations: as many bare `CustomResource`s as the stack has resources, on the
     same mock runtime and recording harness;
  3. the real program on that runtime (its own imports, config validation, components).
floor = (1) + (2); preview = (1) + (3); ratio = preview / floor. The target is ratio <= 1.25.
Both run after the same runtime set-up (`tools.offline.prepare_runtime`: the GC freeze after imports).
A fourth figure separates the SDK's cost from the program's own: (4) replays the same registrations
(same types, inputs, and the declared output properties each SDK class registers) without the
program; `own` = preview / ((1) + (4)) is what config validation, planning and components add.
Times are the median of several runs of (2), (3) and (4); peak RSS is the worker's maximum.

    python benchmarks/offline_preview.py [--stacks stg prd] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib
import json
import keyword
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PACKAGES = {"aws": "pulumi_aws", "postgresql": "pulumi_postgresql", "random": "pulumi_random",
            "datadog": "pulumi_datadog", "pagerduty": "pulumi_pagerduty"}  # fmt: skip


def sdk_modules(types: list[str]) -> list[str]:
    """`aws:ec2/vpc:Vpc` -> `pulumi_aws.ec2`; providers (`pulumi:providers:aws`) -> `pulumi_aws`."""
    modules = {"pulumi"}
    for token in types:
        if token.startswith("pulumi:providers:"):
            package = PACKAGES.get(token.rsplit(":", 1)[1])
            if package:
                modules.add(package)
            continue
        package_name, module_path, _ = token.split(":")
        package = PACKAGES.get(package_name)
        if package is None:
            continue
        modules.add(_python_module(package, module_path))
    return sorted(modules)


def _python_module(package: str, module_path: str) -> str:
    """`aws:lambda/function` -> `pulumi_aws.lambda_` (Python keywords get an underscore)."""
    module = module_path.split("/", maxsplit=1)[0]
    if module == "index":
        return package
    return f"{package}.{module + '_' if keyword.iskeyword(module) else module}"


def worker(stack: str, repeat: int) -> dict[str, float | int | str]:
    # Discover the stack's resource types in a throwaway process so this one starts cold.
    types = json.loads(subprocess.run(
        [sys.executable, __file__, "--discover", stack], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout)  # fmt: skip
    start = time.perf_counter()
    for module in sdk_modules(types):
        importlib.import_module(module)
    import_seconds = time.perf_counter() - start

    import pulumi

    from tools.mock_runtime import run_program
    from tools.mocks import PlatformMocks
    from tools.offline import prepare_runtime, run_stack

    prepare_runtime()  # the same runtime set-up for the floor and for the program

    count = len(types)
    mocks = PlatformMocks(account_id="123456789012", default_region="ap-northeast-1")

    def bare() -> None:
        for index in range(count):
            pulumi.CustomResource("bench:index:Bare", f"bare-{index}", {"value": str(index)})

    recorded = run_stack(stack).resources

    def replay() -> None:
        for registered in recorded:
            props = {**dict.fromkeys(_declared_outputs(registered.type)), **registered.inputs}
            if registered.type.startswith("pulumi:providers:"):
                pulumi.ProviderResource(registered.type.rsplit(":", 1)[1], registered.name, props)
            elif registered.custom:
                pulumi.CustomResource(registered.type, registered.name, props)
            else:
                pulumi.ComponentResource(registered.type, registered.name, None)

    bare_times, program_times, replay_times = [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        run_program(bare, project="platform", stack=stack, config={}, secret_keys=[], mocks=mocks)
        bare_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        run = run_stack(stack)
        program_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_program(replay, project="platform", stack=stack, config={}, secret_keys=[], mocks=mocks)
        replay_times.append(time.perf_counter() - t)
    assert len(run.resources) == count, (len(run.resources), count)
    floor = import_seconds + statistics.median(bare_times)
    preview = import_seconds + statistics.median(program_times)
    replayed = import_seconds + statistics.median(replay_times)
    return {
        "stack": stack,
        "resources": count,
        "import_s": round(import_seconds, 3),
        "floor_s": round(floor, 3),
        "preview_s": round(preview, 3),
        "ratio": round(preview / floor, 3),
        "own": round(preview / replayed, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _declared_outputs(type_token: str) -> list[str]:
    """The output properties an SDK class registers as None (what makes a typed resource heavier)."""
    package_name, module_path, class_name = type_token.split(":")
    package = PACKAGES.get(package_name if package_name != "pulumi" else class_name)
    if package is None:
        return []
    module = package if package_name == "pulumi" else _python_module(package, module_path)
    cls = getattr(importlib.import_module(module), "Provider" if package_name == "pulumi" else class_name, None)
    if cls is None:
        return []
    return [name for name, value in vars(cls).items() if isinstance(value, property) and not name.startswith("_")]


def scaling(stack: str, sizes: list[int]) -> None:
    """Preview time as N extra apps and N extra batches are added to the stack's config (linearity)."""
    import copy

    from tools.offline import prepare_runtime, run_stack
    from tools.stack_config import load_stack_config

    base = load_stack_config(ROOT, stack)
    prepare_runtime()
    run_stack(stack, config=base)  # warm: imports and first-use caches
    print(f"{'extra':>5} {'resources':>9} {'seconds':>8} {'ms/resource':>11}")
    for extra in sizes:
        values = copy.deepcopy(base.values)
        apps = json.loads(values["platform:apps"])
        batches = json.loads(values["platform:batches"])
        for index in range(extra):
            worker = copy.deepcopy(apps["services"]["worker"])
            worker["secrets"] = {}
            apps["services"][f"scale-{index}"] = worker
            batch = copy.deepcopy(batches["cleanup"])
            batch["secrets"] = {}
            batches[f"scale-batch-{index}"] = batch
        values["platform:apps"], values["platform:batches"] = json.dumps(apps), json.dumps(batches)
        config = type(base)(project=base.project, stack=stack, values=values, secret_keys=base.secret_keys)
        start = time.perf_counter()
        run = run_stack(stack, config=config)
        seconds = time.perf_counter() - start
        print(f"{extra:>5} {len(run.resources):>9} {seconds:>8.3f} {1000 * seconds / len(run.resources):>11.2f}")


def discover(stack: str) -> None:
    from tools.offline import run_stack

    print(json.dumps([r.type for r in run_stack(stack).resources]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", default=["stg", "prd"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--discover", help=argparse.SUPPRESS)
    parser.add_argument("--scaling", nargs="*", type=int, help="extra apps and batches, e.g. --scaling 0 10 20 40")
    args = parser.parse_args()
    if args.scaling is not None:
        scaling(args.stacks[0], args.scaling or [0, 10, 20, 40])
        return
    if args.discover:
        discover(args.discover)
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat)))
        return
    columns = ("resources", "imports s", "floor s", "preview s", "ratio", "own", "peak RSS MiB")
    print(f"{'stack':6} " + " ".join(f"{c:>9}" for c in columns))
    for stack in args.stacks:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", stack, "--repeat", str(args.repeat)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['stack']:6} {r['resources']:>9} {r['import_s']:>9.3f} {r['floor_s']:>9.3f} {r['preview_s']:>9.3f}"
            f" {r['ratio']:>9.3f} {r['own']:>9.3f} {r['peak_rss_mib']:>9.1f}"
        )


if __name__ == "__main__":
    main()
