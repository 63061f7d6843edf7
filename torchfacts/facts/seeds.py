"""The seed claims: what five learners' notes say about PyTorch (paraphrased).

Each claim keeps its id forever. Facts name the ids they support, so
``torchfacts explain`` can show a learner which note a fact confirms or corrects.

>>> SEED_CLAIMS["S000-06"].text
'`view()` reshapes a tensor without copying memory.'
"""

from __future__ import annotations

from typing import NamedTuple


class SeedClaim(NamedTuple):
    id: str
    seed: str
    text: str


_CLAIMS = [
    ('S000-01', '000', 'A model is a subclass of `nn.Module`; `__init__` creates the layers, `forward` connects them.'),
    ('S000-02', '000', "An `nn` module holds its own parameters (e.g. `conv.weight`); the functional form (`F.conv2d`) is stateless and needs weight and bias passed in — with the module's own tensors it computes the same result."),
    ('S000-03', '000', '`nn` modules use the functional API inside `forward`.'),
    ('S000-04', '000', '`nn.Module` adds utilities such as `eval()` and `parameters()` and creates parameters automatically.'),
    ('S000-05', '000', 'Stateless ops (sigmoid, relu, tanh) can safely be used in functional form; modules are for things with learnable parameters.'),
    ('S000-06', '000', '`view()` reshapes a tensor without copying memory.'),
    ('S000-07', '000', '`a = torch.range(3, 4); a = a.view(2, 6)` turns the tensor into a 2 x 6 tensor.'),
    ('S000-08', '000', 'A tensor is a block of contiguous memory plus a shape and a stride; stride is how many elements to step in memory to reach the next element of each dimension.'),
    ('S000-09', '000', '`view(d1, d2, ...)` returns a view of the same data by changing only shape and stride.'),
    ('S000-10', '000', '`nn.Dropout` is not a trainable layer.'),
    ('S000-11', '000', '`nn.Dropout` behaves differently after `model.eval()` and `model.train()`.'),
    ('S000-12', '000', 'Modules such as `ReLU` behave the same in both modes.'),
    ('S000-13', '000', '`model.eval()` disables every module that has train/test phases — "basically any module that has learnable parameters" — so they no longer contribute to learning.'),
    ('S001-01', '001', '"Variables" wrap tensors, remember dependencies for autograd, and most `nn` layers expect Variables rather than Tensors.'),
    ('S001-02', '001', 'A model must implement `forward` and `backward` (backward is automatic).'),
    ('S001-03', '001', '`parameters()` returns all parameters and `children()` returns all layers/sub-models.'),
    ('S001-04', '001', '`nn.Sequential` is a container that runs linearly stacked layers in order.'),
    ('S001-05', '001', '`loss.backward()` starts back-propagation.'),
    ('S001-06', '001', 'The optimizer does the house-keeping: `zero_grad()`, and `step()`, which "does backward for each param" and updates it.'),
    ('S001-07', '001', 'A dataset is conceptually a list: it implements `__getitem__` and `__len__`.'),
    ('S001-08', '001', '`DataLoader` is a batch generator "with multiple thread support".'),
    ('S001-09', '001', '`nn.BatchNorm2d` takes the number of channels (features) as its argument.'),
    ('S001-10', '001', 'After `model.eval()`, BatchNorm uses the recorded moving mean and variance.'),
    ('S001-11', '001', '`new_image_size = image_size + padding * 2 - kernel_size + 1`.'),
    ('S001-12', '001', 'For "SAME" output size, use an odd kernel and `padding = (kernel_size - 1) // 2`.'),
    ('S001-13', '001', 'The mode is the boolean `model.training`; `model.train(True/False)` switches it and `model.eval()` equals `model.train(False)`.'),
    ('S001-14', '001', 'An optimizer only updates the tensors passed to its constructor.'),
    ('S001-15', '001', 'An optimizer only updates tensors whose `requires_grad` is True, so turning `requires_grad` off freezes a parameter.'),
    ('S002-01', '002', '`forward` is called for you by `model(data)`; never call it directly.'),
    ('S002-02', '002', 'With `nn.Sequential` you do not need to write `forward`.'),
    ('S002-03', '002', 'A training iteration is `outputs = model(inputs); loss = criterion(outputs, labels); loss.backward(); optimizer.step()`.'),
    ('S002-04', '002', '`model.train()`: BatchNorm uses per-batch statistics and Dropout is active. `model.eval()`: BatchNorm uses running statistics and Dropout is off. `model.eval()` equals `model.train(False)`.'),
    ('S003-01', '003', "`torch.manual_seed(s)` makes random tensors (`torch.randn`, `torch.rand_like`) reproducible; `rand_like` returns a tensor of the input's size."),
    ('S003-02', '003', '`torch.mm` of an (n×m) and an (m×p) tensor is (n×p); the inner sizes must agree.'),
    ('S003-03', '003', '`torch.from_numpy(array)` shares memory with the array: in-place changes to one show in the other.'),
    ('S003-04', '003', '`tensor.numpy()` shares memory with the tensor: in-place changes to one show in the other.'),
    ('S003-05', '003', '`transforms.Normalize((0.5,), (0.5,))` after `ToTensor()` maps pixel values into [-1, 1].'),
    ('S003-06', '003', '`datasets.MNIST(root, download=True, train=True, transform=...)` gives the training set, downloading it only if absent.'),
    ('S003-07', '003', 'A loader is iterated with `for images, labels in loader`, or `dataiter = iter(loader); images, labels = dataiter.next()`.'),
    ('S003-08', '003', '`images.view(images.shape[0], -1)` flattens each image of a batch.'),
    ('S003-09', '003', 'A network ending in `nn.Softmax(dim=1)` outputs one probability distribution per row.'),
    ('S003-10', '003', '`torch.exp(x) / torch.sum(torch.exp(x), dim=1).view(-1, 1)` computes softmax.'),
    ('S003-11', '003', 'With `nn.LogSoftmax` as the output layer, `torch.exp(model(x))` gives the probabilities; use it with `nn.NLLLoss`.'),
    ('S003-12', '003', '`nn.CrossEntropyLoss` combines `LogSoftmax` and `NLLLoss`, so it takes a network with no final activation (raw scores).'),
    ('S003-13', '003', '`probabilities.topk(1, dim=1)` returns the most likely class.'),
    ('S003-14', '003', '`equals = top_class == labels.view(*top_class.shape); accuracy = equals.numpy().mean()` computes accuracy.'),
    ('S003-15', '003', '`torch.no_grad()` turns off gradient tracking for a block, which speeds it up.'),
    ('S003-16', '003', '`model.eval()` turns dropout off (and you should also turn gradients off); `model.train()` turns it back on.'),
    ('S003-17', '003', '`optimizer.step()` updates the weights and `optimizer.zero_grad()` clears the gradients.'),
    ('S003-18', '003', "An optimizer's learning rate `lr` defaults to 1.0."),
    ('S003-19', '003', '`torch.save(model.state_dict(), path)` then `model.load_state_dict(torch.load(path))` restores the model.'),
    ('S003-20', '003', "Loading a state dict works only if the model architecture is exactly the checkpoint's."),
    ('S003-21', '003', 'Keep the model with the lowest validation loss (not training loss): save as you train and pick the best.'),
    ('S003-22', '003', 'Dropout is the most common way (besides early stopping) to reduce overfitting; turn it off for validation, testing and prediction.'),
    ('S004-01', '004', '`Net(n_classes)`: `Conv2d(1, 32, 5)`, `MaxPool2d(2, 2)`, then `Linear(32*4, n_classes)` takes the flattened feature maps.'),
    ('S004-02', '004', "The network's final output is `F.relu(self.fc1(x))`."),
    ('S004-03', '004', '`x.view(x.size(0), -1)` flattens feature maps into one vector per sample; `-1` is inferred.'),
    ('S004-04', '004', '`torch.unsqueeze(x, 1)` inserts a dimension of size one at position 1.'),
    ('S004-05', '004', 'Training = forward pass, loss, backward pass (propagate gradients), parameter update.'),
]

SEED_CLAIMS: dict[str, SeedClaim] = {cid: SeedClaim(cid, seed, text) for cid, seed, text in _CLAIMS}
