/* `run`: the harness as the kubelet of one Node. It registers the Node (Ready, addresses,
 * capacity) and keeps its status fresh, follows the pods whose spec.nodeName is this node,
 * runs each new one (pod_runner.h), writes their status through the status subresource,
 * and finishes deletions: a pod deleted with a grace period keeps existing with a
 * deletionTimestamp until its kubelet confirms, so after teardown the harness deletes it
 * again with gracePeriodSeconds=0. SIGTERM/SIGINT tear every pod down before exiting.
 * Pods without spec.nodeName are not ours: there is no scheduler, so tests bind pods by
 * setting spec.nodeName themselves. */
#pragma once

#include "harness.h"

int harness_node_run(const struct harness_config *cfg, const char *kubeconfig);
