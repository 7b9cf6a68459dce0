from transforms.text import byline, html_to_text, is_furniture, looks_like_html, unwrap_paragraphs


def test_site_furniture_lines_are_recognised():
    for line in (
        "Share this article:",
        "0 Comments",
        "Exit mobile version",
        "Leave a Reply",
        "Your email address will not be published. Required fields are marked *",
        "Site icon Realist: news and analytics",
        "Listen to this article0:00 min",
        "Read more: Markets slide as oil jumps",
        "Copyright 2024 Harbour Gazette. All rights reserved.",
        "REUTER",
        "Advertisement",
    ):
        assert is_furniture(line), line


def test_article_sentences_are_not_furniture():
    for line in (
        "Shares of the company rose 4 percent on Monday.",
        "Subscribers to the service will pay 10 dollars more, the company said.",
        "Copyright law was changed in 1998 to cover software.",
        "Related companies said they would not comment.",
        "Reuters reported the deal first.",
    ):
        assert not is_furniture(line), line


def test_byline_with_reading_time_badge():
    assert byline("Sarah Chen3 min read") == "Sarah Chen"
    assert byline("By Staff Reporter") == "Staff Reporter"
    assert byline("The Kremlin said on Friday it was encouraged.") is None


def test_html_fragment_becomes_paragraph_lines_without_scripts():
    html = "<p>First <b>bold</b> line.</p><script>evil()</script><ul><li>One</li><li>Two</li></ul>"
    assert html_to_text(html) == "First bold line.\nOne\nTwo"


def test_broken_html_fragment_does_not_raise():
    assert html_to_text("<p><div>unclosed <i>tags") == "unclosed tags"
    assert html_to_text("") == ""


def test_hard_wrapped_wire_copy_is_unwrapped_at_indented_paragraphs():
    wire = (
        "WELLINGTON, March 2 - An earthquake measuring 6.5 on the\n"
        "Richter scale caused widespread damage in northern New Zealand\n"
        "and a civil defence emergency was declared, officials said.\n"
        "    There were no immediate reports of casualties. The quake\n"
        "jolted the Bay of Plenty and Waikato areas.\n"
    )
    assert unwrap_paragraphs(wire).split("\n") == [
        "WELLINGTON, March 2 - An earthquake measuring 6.5 on the Richter scale caused "
        "widespread damage in northern New Zealand and a civil defence emergency was declared, "
        "officials said.",
        "There were no immediate reports of casualties. The quake jolted the Bay of Plenty and "
        "Waikato areas.",
    ]


def test_one_paragraph_per_line_text_is_left_alone():
    scraped = (
        "The Kremlin has confirmed that President Vladimir Putin has accepted certain elements of "
        "the U.S. proposal for a potential settlement in the Ukraine conflict.\n"
        "According to Peskov, the discussions represent the first direct exchange of views.\n"
    )
    assert unwrap_paragraphs(scraped).count("\n") == 1


def test_a_short_wrapped_paragraph_in_wire_copy_is_joined_too():
    wire = (
        "BUENOS AIRES, March 4 - Central Bank director Daniel Marx\n"
        "said Argentina's creditor banks were divided on the country's\n"
        "request for rescheduling its foreign debt.\n"
        '    Marx said the talks should not drag on. "If Venezuela and\n'
        "Mexico have concluded their negotiations, we want to end (ours)\n"
        'in a reasonable manner and as soon as possible," he said.\n'
    )
    assert unwrap_paragraphs(wire).split("\n")[1] == (
        'Marx said the talks should not drag on. "If Venezuela and Mexico have concluded their '
        'negotiations, we want to end (ours) in a reasonable manner and as soon as possible," he '
        "said."
    )


def test_wire_ticker_symbols_are_text_not_html():
    assert not looks_like_html("the ANZ Banking Group Ltd <ANZA.S> said.")
    assert looks_like_html("<p>A paragraph</p>")
    assert looks_like_html("Fish &amp; chips")
