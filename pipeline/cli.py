"""The ``wirestream`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    PipelineOptions,
    PrismRunnerOptions,
    StandardOptions,
    TestOptions,
)
from apache_beam.portability.api import beam_provision_api_pb2
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.runners.portability.fn_api_runner.fn_runner import ExtendedProvisionInfo
from apache_beam.runners.portability.portable_runner import JobServiceHandle

from pipeline.graph import RunPlan, build_pipeline
from pipeline.local_memory import limit_local_memory
from pipeline.options import DedupOptions, FetchOptions, StreamingOptions, WirestreamOptions
from pipeline.progress import ProgressReporter
from pipeline.streaming import build_streaming_pipeline, check_streaming, finish_streaming_output
from pipeline.summary import summarize
from transforms.read import input_matches_anything
from transforms.write import STAGING_DIR, DamagedJournal, finish_interrupted_publishes

# The project's seed articles, the default input when running from a checkout.
SEEDS = Path(__file__).resolve().parent.parent / "seeds"

_OUR_OPTIONS = (WirestreamOptions, DedupOptions, FetchOptions, StreamingOptions)
_BEAM_EPILOG = """\
Every Apache Beam pipeline option passes through, for example:
  --runner=FlinkRunner --flink_master=HOST:PORT     run on Flink
  --direct_num_workers=2 --direct_running_mode=multi_processing
                                                     parallel local run
Without --runner (or with --runner=DirectRunner) the run uses Beam's FnApiRunner in this process.
"""


class UsageError(Exception):
    """A mistake in the command line: reported with exit status 2."""


class OutputError(Exception):
    """OUTPUT cannot be written: reported with exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirestream",
        description=(
            "Ingest news from feeds, pages and text files: extract article text, deduplicate wire "
            "reprints, extract claims, assign topics, and write Hive-partitioned Parquet."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run the pipeline (wirestream run --help for every option)",
        description="Run the pipeline once over the inputs and write the tables to OUTPUT.",
        epilog=_BEAM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for options_class in _OUR_OPTIONS:
        options_class._add_argparse_args(run.add_argument_group(options_class.__doc__))
    return parser


def own_option_names() -> set[str]:
    """The names under which wirestream's own options are stored."""
    parser = argparse.ArgumentParser()
    for options_class in _OUR_OPTIONS:
        options_class._add_argparse_args(parser)
    return set(vars(parser.parse_args([])))


def unknown_beam_flags(flags: Sequence[str]) -> list[str]:
    """Flags that neither wirestream nor any Beam options class knows (typos, mostly)."""
    known = set(PipelineOptions([]).get_all_options(drop_default=False))
    parsed = PipelineOptions(list(flags)).get_all_options(retain_unknown_options=True)
    return sorted(f"--{name}" for name in set(parsed) - known)


def make_runner(options: PipelineOptions):
    """The DirectRunner first tries to download Prism: run the FnApiRunner explicitly instead."""
    runner = options.view_as(StandardOptions).runner
    if runner in (None, "DirectRunner", "FnApiRunner"):
        # The Beam options the user set, for the workers of --direct_running_mode=multi_processing,
        # which otherwise start with none: their filesystems need them (S3 endpoint and keys).
        # wirestream's own reach the workers in the graph; Beam's workers know no such options.
        own = own_option_names()
        chosen = {
            name: value
            for name, value in options.get_all_options(drop_default=True).items()
            if name not in own
        }
        provision = beam_provision_api_pb2.ProvisionInfo(
            retrieval_token="unused-retrieval-token",
            pipeline_options=JobServiceHandle.encode_pipeline_options(chosen),
        )
        return FnApiRunner(provision_info=ExtendedProvisionInfo(provision))
    prism = options.view_as(PrismRunnerOptions)
    if str(runner).endswith("PrismRunner") and not prism.prism_location:
        raise UsageError(
            "--runner=PrismRunner needs --prism_location=PATH to a Prism binary (build one with "
            ".ci/prism); without it Beam would download one"
        )
    return runner


def check_inputs(plan: RunPlan, streaming: bool, local_runner: bool) -> None:
    if streaming:
        try:
            check_streaming(plan, local_runner)
        except ValueError as error:
            raise UsageError(str(error)) from error
        return
    for pattern in plan.file_patterns:
        if not input_matches_anything(pattern):
            raise UsageError(f"--input {pattern} matches no file")


def check_output_writable(plan: RunPlan) -> None:
    probe = FileSystems.join(plan.output, STAGING_DIR, f".probe-{uuid.uuid4().hex}")
    try:
        with FileSystems.create(probe) as handle:
            handle.write(b"ok")
        FileSystems.delete([probe])
    except Exception as error:
        raise OutputError(f"cannot write to {plan.output}: {error}") from error


def progress_interval(options: PipelineOptions, runner) -> float:
    """Seconds between progress lines: local batch runs only (remote runners have their own UIs)."""
    if not isinstance(runner, FnApiRunner) or options.view_as(StandardOptions).streaming:
        return 0.0
    return max(options.view_as(WirestreamOptions).progress_interval, 0.0)


def prepare(flags: Sequence[str], progress: str | None = None) -> tuple[beam.Pipeline, RunPlan]:
    """Check the flags, inputs and OUTPUT, and build the pipeline without running it.

    ``progress``: a local folder for the running counts of the progress lines.
    """
    unknown = unknown_beam_flags(flags)
    if unknown:
        raise UsageError(f"unknown option(s): {' '.join(unknown)}")
    options = PipelineOptions(list(flags))
    # Inputs and OUTPUT are checked before the pipeline exists, which is what hands the options
    # to Beam's filesystems otherwise: S3 cannot even list without them (--s3_endpoint_url, keys).
    FileSystems.set_options(options)
    if not options.view_as(WirestreamOptions).inputs and not SEEDS.is_dir():
        raise UsageError("no --input given and there is no seeds/ folder beside the package")
    plan = RunPlan.from_options(options, default_inputs=[str(SEEDS)])
    streaming = bool(options.view_as(StandardOptions).streaming)
    runner = make_runner(options)
    if isinstance(runner, FnApiRunner):
        limit_local_memory()
    check_inputs(plan, streaming, local_runner=isinstance(runner, FnApiRunner))
    if not options.view_as(TestOptions).dry_run:  # a dry run writes nothing
        check_output_writable(plan)
        try:
            finished = finish_interrupted_publishes(plan.output)
        except DamagedJournal as error:
            raise OutputError(
                f"a publish was left half done and {error}: compare its staging folder with "
                "the tables under OUTPUT, keep what belongs, then remove that folder"
            ) from error
        for staging in finished:
            print(f"wirestream: finished the publish left half done in {staging}", file=sys.stderr)
    pipeline = beam.Pipeline(runner=runner, options=options)
    interval = progress_interval(options, runner)
    if streaming:
        build_streaming_pipeline(pipeline, plan)
    else:
        build_pipeline(pipeline, plan, (progress, interval) if progress and interval else None)
    return pipeline, plan


def run(flags: Sequence[str]) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wirestream-progress-") as progress:
        pipeline, plan = prepare(flags, progress)
        standard = pipeline.options.view_as(StandardOptions)
        with ProgressReporter(progress, progress_interval(pipeline.options, pipeline.runner)):
            result = pipeline.run()
            if not standard.no_wait_until_finish:
                result.wait_until_finish()
    if standard.no_wait_until_finish:
        # A launcher (a Dataflow Flex Template, say) submits the job and leaves it running.
        print(f"wirestream: job submitted; its tables appear under {plan.output}/ when it ends")
        return 0
    if standard.streaming:
        finish_streaming_output(plan)
    elapsed = time.monotonic() - started
    print(summarize(plan.output, plan.file_tag, result).render(plan.output, elapsed))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Our options are validated here (types, choices, --help); Beam's pass through untouched.
    args, _ = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "run":
            return run(argv[1:])
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"wirestream: error: {error}", file=sys.stderr)
        return 2
    except OutputError as error:
        print(f"wirestream: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Tables only ever receive complete files; what was in flight stays under _staging/.
        print("wirestream: interrupted; the tables hold only complete files", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
