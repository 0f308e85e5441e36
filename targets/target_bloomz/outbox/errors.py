"""The one error a channel raises to say "this message, not the channel, is the problem"."""


class MessageRejected(Exception):
    """The provider refused this message for good (bad address, content refused).

    The row is marked failed and delivery goes on with the next one. Any other exception from a
    channel means the channel itself is down: delivery stops and the rows stay pending.
    """
