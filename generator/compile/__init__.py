"""μ's compiler: the ordered stages that turn O into A (`pipeline.STAGES`)."""
