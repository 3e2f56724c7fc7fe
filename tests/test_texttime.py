"""--time-format's reader gives what datetime.strptime gives, for every text: the same time or the same error."""
import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from dstream_cli.texttime import text_time_reader

# pieces of formats: the directives read without strptime, ones that send the whole format to it, and literals
DIRECTIVES = ["%d", "%m", "%b", "%Y", "%y", "%H", "%M", "%S", "%f", "%z", "%%"]
OTHERS = ["%I", "%p", "%j", "%a", "%B", "%Z"]
LITERALS = ["/", ":", " ", "  ", "-", "T", ".", ",", "[", "]", "", "%"]


@st.composite
def formats(draw) -> str:
    """Mostly a full date (a day, a month, a year: the formats read without strptime), its parts in any order
    and any of the time's parts with them; else any mix of pieces."""
    if draw(st.booleans()):
        return "".join(draw(st.lists(st.sampled_from(DIRECTIVES + OTHERS + LITERALS), min_size=1, max_size=12)))
    parts = ["%d", draw(st.sampled_from(["%m", "%b"])), draw(st.sampled_from(["%Y", "%y"]))]
    parts += draw(st.lists(st.sampled_from(["%H", "%M", "%S", "%f", "%z", "%%"]), unique=True))
    parts = draw(st.permutations(parts))
    return "".join(part + draw(st.sampled_from(LITERALS)) for part in parts)


moments = st.datetimes(min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(2099, 12, 31),
                       timezones=st.sampled_from([None, datetime.timezone.utc,
                                                  datetime.timezone(datetime.timedelta(hours=-7)),
                                                  datetime.timezone(datetime.timedelta(hours=5, minutes=30))]))


def outcome(read, text):
    try:
        value = read(text)
    except Exception as exc:  # noqa: BLE001 - strptime's own errors, whatever they are, are the ones to give
        return "error", type(exc), str(exc)
    return "time", value, value.utcoffset()


def mutated(text: str, data) -> str:
    """The text as strftime wrote it, or with a character changed, dropped or added, or in capitals."""
    how = data.draw(st.sampled_from(["as written", "changed", "dropped", "added", "upper"]))
    if how == "as written" or not text:
        return text
    if how == "upper":
        return text.upper()
    at = data.draw(st.integers(0, len(text) - (how != "added")))
    if how == "added":
        return text[:at] + data.draw(st.sampled_from("09 :+-Z/.x")) + text[at:]
    return text[:at] + (data.draw(st.sampled_from("0123456789 :+-Zza/.")) if how == "changed" else "") + text[at + 1:]


@settings(max_examples=3000, deadline=None)
@given(formats(), moments, st.data())
def test_a_text_reads_as_strptime_reads_it(time_format, moment, data):
    text = mutated(moment.strftime(time_format), data)
    strptime = lambda value: datetime.datetime.strptime(value, time_format)  # noqa: E731
    assert outcome(text_time_reader(time_format), text) == outcome(strptime, text)


def test_an_apache_log_time_and_its_mistakes():
    read = text_time_reader("%d/%b/%Y:%H:%M:%S %z")
    assert read("10/Oct/2000:13:55:36 -0700") == datetime.datetime(2000, 10, 10, 20, 55, 36,
                                                                   tzinfo=datetime.timezone.utc)
    for wrong, says in (("31/Feb/2000:13:55:36 -0700", "day is out of range"),
                        ("10/Oct/2000:13:55:36 -0700 x", "unconverted data remains"),
                        ("10/Oct/2000:25:55:36 -0700", "does not match format")):
        try:
            read(wrong)
        except ValueError as exc:
            assert says in str(exc)
        else:
            raise AssertionError(f"{wrong!r} was read")
