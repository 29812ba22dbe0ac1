# -*- coding: utf-8 -*-
# Apache License 2.0
"""Platform-realised TOSCA nodes: Marathon apps, Chronos jobs, Onedata spaces, Flux Helm releases."""
