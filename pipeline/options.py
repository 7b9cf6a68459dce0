"""Pipeline options: one ``PipelineOptions`` subclass per concern, all shown by ``run --help``."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_MAX_INPUT_BYTES = 10 * 1024 * 1024


class WirestreamOptions(PipelineOptions):
    """Inputs, output and run mode."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--input",
            dest="inputs",
            action="append",
            default=None,
            metavar="PATH_OR_GLOB",
            help=(
                "File, directory (read recursively) or glob to read; repeat for more. Kinds by "
                "extension, confirmed by sniffing: .txt/.md text, .html/.htm page, "
                ".xml/.rss/.atom/.rdf/.json feed, .opml feed list. Default: the project's seeds/."
            ),
        )
        parser.add_argument(
            "--output",
            default="./output",
            help="Folder for the articles/, claims/ and rejects/ tables (default: ./output).",
        )
        parser.add_argument(
            "--mode",
            choices=("overwrite", "append"),
            default="overwrite",
            help=(
                "overwrite (default): the run replaces the tables in OUTPUT. append: dedup new "
                "input against what OUTPUT already holds and add only new rows."
            ),
        )
        parser.add_argument(
            "--max-input-bytes",
            type=int,
            default=DEFAULT_MAX_INPUT_BYTES,
            help="Files larger than this are rejected as too_large (default: 10 MB).",
        )
        parser.add_argument(
            "--ingested-at",
            default=None,
            metavar="ISO_TIMESTAMP",
            help=(
                "The run's ingest time, stamped on every row (default: now). Pin it to make two "
                "runs over the same input byte-for-byte comparable."
            ),
        )


class DedupOptions(PipelineOptions):
    """Near-duplicate detection parameters (see transforms/dedup.py)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        pass
