"""The kernel layer: `%%step`, `%%scratch` and `%pipeline` in IPython; parse and delegate.

`session` knows which notebook the kernel belongs to and which steps ran here;
`magics` parses, `commands` carries out `%pipeline SUBCOMMAND`.
"""
