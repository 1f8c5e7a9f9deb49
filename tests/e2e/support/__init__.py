"""The acceptance suite's machinery: the scenario format (:mod:`.spec`), what each fake
source serves (:mod:`.sources`), the servers on 127.0.0.1 (:mod:`.servers`), the runner that
drives the ``syncd`` command (:mod:`.runner`) and the comparison with what a scenario expects
(:mod:`.expect`)."""
