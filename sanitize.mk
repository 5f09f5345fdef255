# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The sanitizer flags of SANITIZE=1, shared by Makefile.apxs and unit/Makefile:
# ASan and UBSan, every UBSan finding fatal, frames kept for the reports.
SANITIZE ?=
ifneq ($(SANITIZE),)
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
		 -fno-sanitize-recover=all
endif
