"""Settings modules: ``base`` holds everything read from the environment;
``local``, ``test`` and ``production`` adjust it for where the code runs."""
