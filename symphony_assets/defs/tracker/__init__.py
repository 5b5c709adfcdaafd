"""Issue creation: reconcile findings (work markers and, optionally, other findings) with a tracker."""
