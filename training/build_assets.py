"""Write the shipped prior ``zedo_core/assets/prior.npz`` (and its SHA-256 beside it) from training
checkpoints (one network or an ensemble), or convert a PyTorch prior file (``--convert``).
``--video-checkpoint`` adds networks that join the ensemble only in video mode and for a known
body (``PosePrior.for_mode``, ``LiftConfig.prior_networks``); the shipped prior has two such networks, trained with wider body
proportions (docs/validation.md). Weight matrices are stored at half precision by default.

Adds the K-Means initial poses computed on the training subjects' poses, each turned to face the
camera upright (the lifting loop's start search supplies the orientation): codebooks for S = 1, 10
and 50 hypotheses and the single hypothesis's start pool (``LiftConfig.start_pool``, 200).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.cluster.vq import kmeans2

from training import cmu
from training.augment import canonical_poses
from training.h36m import TRAIN_SUBJECTS
from training.train import training_poses
from zedo_core.lifting import LiftConfig
from training.score_module import ScoreModule
from zedo_core.network import NetworkConfig, ScoreNetwork
from zedo_core.prior import DEFAULT_PRIOR_PATH, PRIOR_MODES, PosePrior, PriorLoadError, checksum_path, file_sha256, load_prior
from zedo_core.sde import SubVPSDE

HYPOTHESIS_COUNTS = (1, 10, 50)
CODEBOOK_SIZES = tuple(sorted({*HYPOTHESIS_COUNTS, LiftConfig().start_pool}))
# The shipped prior's members: the bone-scaling recipe, and the same with --part-swap 0.5.
SHIPPED_RUNS = ("prior_bones_cmu", "prior_swap_cmu")
# Networks that join them in video mode: the same two recipes with every bone scaled by 0.8-1.2.
SHIPPED_VIDEO_RUNS = ("prior_bones20_cmu", "prior_swap20_cmu")


def kmeans_initial_poses(
    data_dir: str | None,
    counts: tuple[int, ...] = CODEBOOK_SIZES,
    seed: int = 0,
    stride: int = 4,
    subjects: tuple[str, ...] = TRAIN_SUBJECTS,
) -> dict[int, np.ndarray]:
    """K-Means centres ``{S: (S, 17, 3)}`` of canonical (facing, upright) training poses."""
    poses = canonical_poses(training_poses(data_dir, subjects)[::stride].double()).numpy().reshape(-1, 51)
    result = {}
    for count in counts:
        if count == 1:
            centres = poses.mean(0, keepdims=True)
        else:
            centres, _ = kmeans2(poses, count, minit="++", seed=seed, iter=30)
        result[count] = centres.reshape(count, 17, 3).astype(np.float32)
    return result


def build(
    checkpoints: list[Path],
    data_dir: str | None,
    out: Path,
    use_ema: bool = True,
    subjects: tuple[str, ...] = TRAIN_SUBJECTS,
    codebooks: tuple[int, ...] = CODEBOOK_SIZES,
    video_checkpoints: tuple[Path, ...] = (),
    matrix_dtype: str = "float16",
) -> None:
    """Write a prior asset from one training checkpoint, or an ensemble from several; with
    ``video_checkpoints``, those networks join the others in the "video" mode only. A prior file
    given in ``checkpoints`` keeps its networks' modes (a network of its "video" mode only stays
    so); the asset names modes only when some network is not meant for every mode."""
    sources = [read_networks(source, use_ema) for source in (*checkpoints, *video_checkpoints)]
    members = [network for networks, _, _ in sources for network in networks]
    provenance = [record for _, records, _ in sources for record in records]
    video_only = frozenset({"video"})
    member_modes = [
        modes if i < len(checkpoints) else video_only
        for i, (_, _, source_modes) in enumerate(sources)
        for modes in source_modes
    ]  # fmt: skip
    modes = {mode: tuple(i for i, m in enumerate(member_modes) if mode in m) for mode in PRIOR_MODES}
    for mode, indices in modes.items():
        if not indices:
            raise SystemExit(f"error: no network for the {mode!r} mode: give one with --checkpoint")
    if all(m == frozenset(PRIOR_MODES) for m in member_modes):
        modes = {}
    cmu_subjects = {s for record in provenance for s in record["cmu_subjects"]}
    trained_on = f"Human3.6M {' '.join(subjects)} (non-commercial research licence)"
    if cmu_subjects:
        trained_on += f"; CMU mocap subjects {' '.join(map(str, sorted(cmu_subjects)))} (mocap.cs.cmu.edu, NSF EIA-0196217)"
    prior = PosePrior(
        members=members,
        sde=SubVPSDE(),
        initial_poses=kmeans_initial_poses(data_dir, counts=codebooks, subjects=subjects),
        metadata={
            "weights": "ema" if use_ema else "raw",
            "trained_on": trained_on,
            "members": provenance,
        },
        modes=modes,
    )
    write(prior, out, matrix_dtype)
    steps = ", ".join(str(p["training_steps"]) for p in provenance)
    named = "".join(f", {mode}: {list(indices)}" for mode, indices in prior.modes.items())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {len(members)} network(s), steps {steps}{named}")


def read_networks(source: Path, use_ema: bool = True) -> tuple[list[ScoreNetwork], list[dict], list[frozenset[str]]]:
    """The networks of a training checkpoint (``.pt``), or every network of a prior file
    (``.npz``, e.g. the shipped one: checkpoints stay on the machine that trained them), with
    their provenance records (run, steps, training recipe, CMU subjects) and the lifting modes
    each is meant for (a checkpoint's: every mode; a prior file's: as the file says)."""
    if not source.is_file():
        raise SystemExit(f"error: network source not found: {source}")
    if source.suffix == ".npz":
        try:
            prior = load_prior(source, device="cpu", backend="numpy")
        except PriorLoadError as exc:
            raise SystemExit(f"error: {exc}") from None
        records = [dict(record) for record in prior.metadata.get("members", [])]
        if len(records) != len(prior.members):
            raise SystemExit(f"{source} does not record where its {len(prior.members)} networks come from")
        for record in records:
            # Files built before session 13 do not list CMU subjects: the training default then.
            default = list(cmu.TRAIN_SUBJECTS) if record["train_config"].get("cmu_fraction", 0) > 0 else []
            record.setdefault("cmu_subjects", default)
        modes = [frozenset(m for m in PRIOR_MODES if i in prior.members_for(m)) for i in range(len(prior.members))]
        return list(prior.members), records, modes
    state = torch.load(source, map_location="cpu", weights_only=True)
    network = ScoreModule(NetworkConfig(**state["network_config"]))
    network.load_state_dict(state["ema" if use_ema else "model"])
    record = {
        "run": source.parent.name,
        "training_steps": int(state["step"]),
        "train_config": dict(state["train_config"]),
        "cmu_subjects": [int(s) for s in state.get("cmu_subjects", [])],
    }
    return [network.for_inference()], [record], [frozenset(PRIOR_MODES)]


def write(prior: PosePrior, out: Path, matrix_dtype: str = "float16") -> None:
    """Save ``prior`` as a format-3 ``.npz`` (``matrix_dtype``: see ``PosePrior.state``) with its
    SHA-256 in ``OUT.sha256`` (which ``load_prior`` checks for the shipped file)."""
    if out.suffix != ".npz":
        raise SystemExit(f"--out must end in .npz, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    prior.save(out, matrix_dtype)
    checksum_path(out).write_text(f"{file_sha256(out)}  {out.name}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--checkpoint", type=Path, nargs="+", default=[Path(f"runs/{run}/checkpoint.pt") for run in SHIPPED_RUNS],
        help="training checkpoint(s) or prior file(s) (.npz: all their networks, in the modes the file names); "
        "several make an ensemble. "
        "Default: the shipped prior's two runs (docs/research.md, Training the prior)",
    )
    parser.add_argument(
        "--video-checkpoint", type=Path, nargs="*", default=[Path(f"runs/{run}/checkpoint.pt") for run in SHIPPED_VIDEO_RUNS],
        help="checkpoint(s) or prior file(s) of networks that join --checkpoint's in video mode and for a known "
        "body (plain frame-by-frame lifting uses --checkpoint's alone); none: every network always. "
        "Default: the shipped prior's",
    )
    parser.add_argument("--data", default=None, help="Human3.6M folder (default ../shared/data/h36m)")
    parser.add_argument("--out", type=Path, default=DEFAULT_PRIOR_PATH)
    parser.add_argument("--raw-weights", action="store_true", help="ship the raw instead of the EMA weights")
    parser.add_argument(
        "--matrix-dtype", choices=("float16", "float32"), default="float16",
        help="how the networks' weight matrices are stored (read back as float32; float16 halves the file and "
        "moves results by at most 0.01 mm, docs/research.md; default %(default)s)",
    )
    parser.add_argument("--subjects", nargs="+", default=list(TRAIN_SUBJECTS), help="subjects for the K-Means centres")
    parser.add_argument(
        "--codebooks", type=int, nargs="+", default=list(CODEBOOK_SIZES),
        help="K-Means codebook sizes to store (hypothesis counts and start pools; default %(default)s)",
    )
    parser.add_argument(
        "--convert", type=Path, default=None, metavar="PRIOR.pt",
        help="instead of building: convert a PyTorch prior file (asset formats 1 and 2) to --out",
    )
    args = parser.parse_args(argv)
    if args.convert is not None:
        prior = load_prior(args.convert, device="cpu")
        write(prior, args.out, args.matrix_dtype)
        print(f"converted {args.convert} -> {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
        return
    build(
        args.checkpoint, args.data, args.out, use_ema=not args.raw_weights,
        subjects=tuple(args.subjects), codebooks=tuple(sorted(set(args.codebooks))),
        video_checkpoints=tuple(args.video_checkpoint), matrix_dtype=args.matrix_dtype,
    )


if __name__ == "__main__":
    main()
