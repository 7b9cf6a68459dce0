"""Pipeline options: one ``PipelineOptions`` subclass per concern, all shown by ``run --help``."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_MAX_INPUT_BYTES = 10 * 1024 * 1024
# Real pages take well under a second; hostile ones can keep trafilatura busy for minutes.
DEFAULT_EXTRACT_TIMEOUT = 30.0


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
            "--extract-timeout",
            type=float,
            default=DEFAULT_EXTRACT_TIMEOUT,
            metavar="SECONDS",
            help=(
                "Time limit for extracting the text of one web page; a page over it is rejected "
                f"as extraction_timeout. 0: no limit (default: {DEFAULT_EXTRACT_TIMEOUT:g})."
            ),
        )
        parser.add_argument(
            "--progress-interval",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help=(
                "On the local runner, print the items read, articles and rejects so far this "
                "often (to stderr). 0: no progress lines (default: 5)."
            ),
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
    """Near-duplicate detection parameters (see transforms/dedup.py).

    One ``--dedup-<name>`` option per ``transforms.dedup.DedupParams`` field, with the field's
    default and documentation, so the defaults live in one place.
    """

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        import dataclasses  # local: only this class may change in this module

        from transforms.dedup import DedupParams

        for field in dataclasses.fields(DedupParams):
            parser.add_argument(
                "--dedup-" + field.name.replace("_", "-"),
                dest="dedup_" + field.name,  # prefixed: all options share one namespace
                type=type(field.default),
                default=field.default,
                help=f"{field.metadata['help']} (default: {field.default})",
            )


class FetchOptions(PipelineOptions):
    """Network input: how feeds and pages are fetched (see transforms/fetch.py)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        from transforms.fetch import FetchPolicy  # local: only this class may change here

        default = FetchPolicy()
        parser.add_argument(
            "--fetch-articles",
            action="store_true",
            help=(
                "Also fetch the page of each feed entry that carries only a summary (fewer than "
                "150 words) and take the page's main text (trafilatura) when it is longer."
            ),
        )
        parser.add_argument(
            "--allow-private-hosts",
            action="store_true",
            help=(
                "Let URLs reach private, loopback and link-local addresses (refused by default, "
                "also after redirects: a guard against server-side request forgery)."
            ),
        )
        parser.add_argument(
            "--allow-network",
            dest="allowed_networks",
            action="append",
            default=None,
            metavar="CIDR",
            help="Allow this one non-public network (e.g. 10.1.2.0/24); repeat for more.",
        )
        parser.add_argument(
            "--contact-url",
            default=None,
            metavar="URL",
            help="Put this contact URL in the User-Agent (wirestream/VERSION (+URL)).",
        )
        for flag, dest, kind, help_text in (
            ("--connect-timeout", "connect_timeout", float, "Seconds to wait for a connection."),
            ("--fetch-timeout", "read_timeout", float,
             "Seconds to wait for a response and its whole body."),
            ("--fetch-retries", "retries", int,
             "Retries on connection failures, 429 and 5xx, with exponential backoff and jitter."),
            ("--max-backoff", "max_backoff", float,
             "Longest wait before a retry; a server's longer Retry-After ends the fetch instead."),
            ("--max-redirects", "max_redirects", int, "Redirects followed per fetch."),
            ("--max-response-bytes", "max_bytes", int,
             "Larger (decoded) responses are rejected as too_large."),
            ("--host-delay", "host_delay", float,
             "Minimum seconds between two requests to one host (robots.txt Crawl-delay wins "
             "when longer)."),
        ):  # fmt: skip
            parser.add_argument(
                flag,
                dest=dest,
                type=kind,
                default=getattr(default, dest),
                help=f"{help_text} (default: {getattr(default, dest)})",
            )


class StreamingOptions(PipelineOptions):
    """Streaming mode (with Beam's --streaming): poll feeds, write per window."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        from transforms.stream import StreamParams, parse_duration  # local: see FetchOptions

        default = StreamParams()
        parser.add_argument(
            "--poll-interval",
            type=parse_duration,
            default=default.poll_interval,
            metavar="DURATION",
            help=(
                "How often each feed is polled, e.g. 300, 90s, 5m (default: "
                f"{default.poll_interval:g} s). A 304 Not Modified costs no parsing."
            ),
        )
        parser.add_argument(
            "--window",
            type=parse_duration,
            default=default.window,
            metavar="DURATION",
            help=(
                "Length of the fixed windows the tables are written in; each window's files "
                f"appear when it closes (default: {default.window:g} s)."
            ),
        )
        parser.add_argument(
            "--dedup-horizon",
            type=parse_duration,
            default=default.horizon,
            metavar="DURATION",
            help=(
                "How long seen items and stories are remembered, for dropping repeats and "
                f"marking reprints, e.g. 72h (default: {default.horizon / 3600:g}h)."
            ),
        )
        parser.add_argument(
            "--max-runtime",
            type=parse_duration,
            default=None,
            metavar="DURATION",
            help=(
                "Stop polling after this long and end the run cleanly (needed on the local "
                "runner, which writes the windows when the run ends). Default: run until stopped."
            ),
        )
