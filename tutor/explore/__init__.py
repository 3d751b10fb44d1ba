"""``tutor explore``: a full-screen explorer of self-attention (and of a model's heads) over
the same walkthroughs and renderers as the commands and the lessons.

:mod:`tutor.explore.state` holds what is shown and checks every edit (no Textual);
:mod:`tutor.explore.app` is the Textual app (the ``explore`` extra), imported only by the
command.
"""
