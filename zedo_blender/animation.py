"""Write dense keyframes into a new action, on Blender 4.2 to 5.x.

Blender 4.4 introduced slotted (layered) actions and 5.0 removed ``Action.fcurves``; this module
writes into the action's channelbag where the layered API exists and into ``Action.fcurves``
before that. Keys are written in bulk with ``keyframe_points.add`` + ``foreach_set``.
"""

from __future__ import annotations

import bpy
import numpy as np


class ActionWriter:
    """A new action assigned to ``owner`` (an object); :meth:`curve` adds one fully keyed F-curve."""

    def __init__(self, owner: bpy.types.ID, name: str) -> None:
        self.action = bpy.data.actions.new(name)
        self.slot = None
        if hasattr(self.action, "layers"):  # Blender 4.4+: slotted actions
            self.slot = self.action.slots.new(id_type="OBJECT", name=owner.name)
            strip = self.action.layers.new("Layer").strips.new(type="KEYFRAME")
            self._channels = strip.channelbag(self.slot, ensure=True)
        else:
            self._channels = None
        animation_data = owner.animation_data or owner.animation_data_create()
        animation_data.action = self.action
        if self.slot is not None:
            animation_data.action_slot = self.slot

    def curve(self, data_path: str, index: int, group: str, frames: np.ndarray, values: np.ndarray) -> bpy.types.FCurve:
        """Add an F-curve keyed at ``frames`` with ``values`` (1-D arrays of equal length)."""
        if self._channels is not None:
            fcurve = self._channels.fcurves.new(data_path, index=index)
            groups = self._channels.groups
            fcurve.group = groups.get(group) or groups.new(group)  # 4.4/4.5 have no group_name argument
        else:
            fcurve = self.action.fcurves.new(data_path, index=index, action_group=group)
        coords = np.empty(2 * len(frames), dtype=np.float32)
        coords[0::2] = frames
        coords[1::2] = values
        fcurve.keyframe_points.add(len(frames))
        fcurve.keyframe_points.foreach_set("co", coords)
        fcurve.update()
        return fcurve
