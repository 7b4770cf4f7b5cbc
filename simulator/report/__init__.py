"""Reports: HTML diff report, JSON summary, JUnit XML, run history and accepted findings."""
