/* vigie — the whole public API. */
#ifndef VIGIE_VIGIE_H
#define VIGIE_VIGIE_H

#include <vigie/version.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/clock.h>
#include <vigie/opt.h>
#include <vigie/frame.h>
#include <vigie/queue.h>
#include <vigie/source.h>
#include <vigie/scene.h>
#include <vigie/event.h>
#include <vigie/stage.h>
#include <vigie/box.h>
#include <vigie/debug.h>
#include <vigie/file.h>
#include <vigie/vision.h>
#include <vigie/track.h>
#include <vigie/nn.h>
#include <vigie/detect.h>
#include <vigie/calib.h>
#include <vigie/infer.h>
#include <vigie/rules.h>
#include <vigie/pose.h>
#include <vigie/image.h>
#include <vigie/abandoned.h>
#include <vigie/crowd.h>
#include <vigie/density.h>
#include <vigie/fall.h>
#include <vigie/fire.h>
#include <vigie/weapon.h>
#include <vigie/flow.h>
#include <vigie/pipeline.h>

#endif
