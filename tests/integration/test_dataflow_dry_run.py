"""The Dataflow job, built offline with the DataflowRunner's dry run, and the Flex Template files.

The dry run translates the pipeline exactly as a submission would (runner overrides, the portable
pipeline proto, the job description) and stops before calling the Dataflow service, so it needs
apache-beam[gcp] but no credentials or network.
"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2

from pipeline.cli import prepare, unknown_beam_flags
from schemas import TABLES
from tests.conftest import PROJECT, SEEDS
from tests.integration.conftest import INGESTED_AT

DATAFLOW = PROJECT / "deploy" / "dataflow"
IMAGE = "europe-west1-docker.pkg.dev/wirestream-ci/wirestream/wirestream:test"
OUTPUT = "gs://wirestream-ci/output"
# What a Flex Template launch passes: the job's options and the template's parameters.
DATAFLOW_FLAGS = [
    f"--input={SEEDS}",
    f"--output={OUTPUT}",
    f"--ingested-at={INGESTED_AT}",
    "--runner=DataflowRunner",
    "--dry_run=True",
    "--project=wirestream-ci",
    "--region=europe-west1",
    "--temp_location=gs://wirestream-ci/tmp",
    "--job_name=wirestream-dry-run",
    "--num_workers=2",
    "--max_num_workers=8",
    f"--sdk_container_image={IMAGE}",
]
# A value each template parameter accepts (default: a Cloud Storage path).
SAMPLE_VALUES = {"mode": "append", "streaming": "true"}
# The stages every wirestream job has, by the labels pipeline/graph.py gives them.
CORE_STAGES = {"Read", "Normalize", "AssignTopic", "Deduplicate", "ExtractClaims", "Publish"}


def load_flex_main():
    """deploy/dataflow/main.py, the Flex Template's entry point, as a module."""
    spec = importlib.util.spec_from_file_location("flex_main", DATAFLOW / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def top_level_labels(flags: list[str]) -> set[str]:
    """The pipeline's stages as built for these flags, before any runner rewrites the graph."""
    pipeline, _ = prepare(flags)
    return {part.full_label for part in pipeline.transforms_stack[0].parts}


def dry_run(flags: list[str]):
    """The Dataflow job the runner would submit for these flags (apiclient.Job)."""
    pytest.importorskip(
        "apache_beam.runners.dataflow.internal.apiclient",
        reason="the Dataflow dry run needs apache-beam[gcp]",
    )
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    pipeline, _ = prepare(flags)
    assert isinstance(pipeline.runner, DataflowRunner)
    return pipeline.run().job


def sdk_pipeline_options(job) -> dict:
    """The options Dataflow hands every worker, as the submission would send them."""
    from apache_beam.runners.dataflow.internal import apiclient

    environment = apiclient.Environment(
        packages=[],
        options=job.options,
        environment_version=apiclient._FNAPI_ENVIRONMENT_MAJOR_VERSION,
        proto_pipeline_staged_url=f"{job.google_cloud_options.staging_location}/pipeline.pb",
        proto_pipeline=job.proto_pipeline,
    )
    return dict(environment.proto.sdk_pipeline_options["options"])


@pytest.fixture(scope="module")
def batch_job():
    return dry_run(DATAFLOW_FLAGS)


@pytest.mark.dataflow
def test_job_graph_has_every_stage_of_the_pipeline(batch_job):
    names = {t.unique_name for t in batch_job.proto_pipeline.components.transforms.values()}
    stages = top_level_labels(DATAFLOW_FLAGS)
    assert stages >= CORE_STAGES
    # One write stage per table.
    # The tables, and the dedup signature index beside them.
    assert len({label for label in stages if label.startswith("Write")}) == len(TABLES) + 1
    assert stages <= names


@pytest.mark.dataflow
def test_job_runs_the_template_image_as_a_batch_job(batch_job):
    assert batch_job.proto.name == "wirestream-dry-run"
    assert batch_job.proto.type_.name == "JOB_TYPE_BATCH"
    environments = batch_job.proto_pipeline.components.environments.values()
    docker = [env for env in environments if env.urn == common_urns.environments.DOCKER.urn]
    assert docker
    for env in docker:
        payload = beam_runner_api_pb2.DockerPayload.FromString(env.payload)
        assert payload.container_image == IMAGE


@pytest.mark.dataflow
def test_options_reach_the_workers(batch_job):
    options = sdk_pipeline_options(batch_job)
    assert options["project"] == "wirestream-ci"
    assert options["region"] == "europe-west1"
    assert options["temp_location"].startswith("gs://wirestream-ci/tmp")
    assert options["num_workers"] == 2
    assert options["max_num_workers"] == 8
    assert options["sdk_container_image"] == IMAGE
    # wirestream's own options travel with the job too.
    assert options["output"] == OUTPUT
    assert options["inputs"] == [str(SEEDS)]
    assert options["ingested_at"] == INGESTED_AT


@pytest.mark.dataflow
def test_streaming_flag_of_the_template_makes_a_streaming_job():
    # A streaming job polls feeds: it takes feed URLs, not files.
    batch_flags = [f for f in DATAFLOW_FLAGS if not f.startswith("--input=")]
    feed = "--input=https://feeds.example.com/world.xml"
    template_flags = [feed, *batch_flags, "--streaming=true"]
    flags = load_flex_main().wirestream_args(template_flags)[1:]
    job = dry_run(flags)
    assert job.proto.type_.name == "JOB_TYPE_STREAMING"
    assert sdk_pipeline_options(job)["streaming"] is True


def test_flex_entry_point_turns_template_parameters_into_a_wirestream_command():
    flex_main = load_flex_main()
    args = flex_main.wirestream_args(
        ["--input=gs://b/feeds/**", "--output=gs://b/out", "--streaming=false", "--region=r"]
    )
    assert args == [
        "run",
        "--input=gs://b/feeds/**",
        "--output=gs://b/out",
        "--region=r",
        "--no_wait_until_finish",
    ]
    assert "--streaming" in flex_main.wirestream_args(["--streaming=TRUE"])


def test_every_template_parameter_is_an_option_wirestream_accepts():
    metadata = json.loads((DATAFLOW / "metadata.json").read_text(encoding="utf-8"))
    flex_args = []
    for parameter in metadata["parameters"]:
        value = SAMPLE_VALUES.get(parameter["name"], "gs://wirestream-ci/x")
        assert all(re.fullmatch(regex, value) for regex in parameter.get("regexes", []))
        flex_args.append(f"--{parameter['name']}={value}")
    assert unknown_beam_flags(load_flex_main().wirestream_args(flex_args)[1:]) == []
